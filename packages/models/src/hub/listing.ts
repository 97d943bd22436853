import { listFiles } from "@huggingface/hub"
import { Effect } from "effect"
import { HubAuthError, HubRequestError } from "../errors.ts"

/** One file of a hub repository as the tree API describes it. */
export interface RemoteFile {
  readonly path: string
  readonly size: number
  /** SHA-256 of the content; the hub gives it for LFS files (`lfs.oid`). */
  readonly sha256?: string
  /** Git blob id (SHA-1 of "blob <size>\0" + content); what the hub gives for small non-LFS files. */
  readonly gitSha1?: string
}

export interface HubLocation {
  readonly endpoint: string
  readonly repo: string
  readonly revision: string
  readonly token: string | undefined
  readonly fetch: typeof globalThis.fetch
}

const statusOf = (error: unknown): number | undefined => {
  const status = (error as { statusCode?: unknown }).statusCode
  return typeof status === "number" ? status : undefined
}

const causeText = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  const base = error instanceof Error ? error.message : String(error)
  return cause?.code || cause?.message ? `${base} (${cause.code ?? cause.message})` : base
}

/** Lists the repository's top-level files with sizes and hashes (`GET /api/models/<repo>/tree/<revision>`). */
export const listRepoFiles = (
  hub: HubLocation,
): Effect.Effect<ReadonlyMap<string, RemoteFile>, HubAuthError | HubRequestError> => {
  const url = `${hub.endpoint}/api/models/${hub.repo}/tree/${encodeURIComponent(hub.revision)}`
  return Effect.tryPromise({
    try: async () => {
      const files = new Map<string, RemoteFile>()
      for await (const entry of listFiles({
        repo: hub.repo,
        revision: hub.revision,
        hubUrl: hub.endpoint,
        fetch: hub.fetch,
        ...(hub.token ? { accessToken: hub.token } : {}),
      })) {
        if (entry.type !== "file") continue
        files.set(entry.path, {
          path: entry.path,
          size: entry.lfs?.size ?? entry.size,
          ...(entry.oid ? { gitSha1: entry.oid } : {}),
          ...(entry.lfs?.oid ? { sha256: entry.lfs.oid } : {}),
        })
      }
      return files as ReadonlyMap<string, RemoteFile>
    },
    catch: (error) => {
      const status = statusOf(error)
      if (status === 401 || status === 403)
        return new HubAuthError({ repo: hub.repo, url, status, hadToken: hub.token !== undefined })
      return new HubRequestError({
        url,
        ...(status === undefined ? {} : { status }),
        reason: status === undefined ? `hub unreachable: ${causeText(error)}` : causeText(error),
      })
    },
  })
}
