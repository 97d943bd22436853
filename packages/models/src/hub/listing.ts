import { listFiles } from "@huggingface/hub"
import { Effect } from "effect"
import { HubAuthError, HubRequestError, HubUnreachableError } from "../errors.ts"

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
): Effect.Effect<ReadonlyMap<string, RemoteFile>, HubAuthError | HubRequestError | HubUnreachableError> => {
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
      return status === undefined
        ? new HubUnreachableError({ endpoint: hub.endpoint, url, reason: causeText(error) })
        : new HubRequestError({ url, status, reason: causeText(error) })
    },
  })
}

const HEX64 = /^[0-9a-f]{64}$/i
const HEX40 = /^[0-9a-f]{40}$/i

/**
 * One file's size and hash from the headers of `HEAD <endpoint>/<repo>/resolve/<revision>/<file>`
 * (redirect not followed): `X-Linked-Size` / `X-Linked-ETag` for LFS files, else `Content-Length` / `ETag`.
 * For endpoints (mirrors) without the tree API.
 */
export const headRemoteFile = (
  hub: HubLocation,
  file: string,
): Effect.Effect<RemoteFile, HubAuthError | HubRequestError | HubUnreachableError> => {
  const url = `${hub.endpoint}/${hub.repo}/resolve/${encodeURIComponent(hub.revision)}/${file.split("/").map(encodeURIComponent).join("/")}`
  return Effect.tryPromise({
    try: (signal) =>
      hub.fetch(url, {
        method: "HEAD",
        redirect: "manual",
        signal,
        headers: {
          "accept-encoding": "identity",
          ...(hub.token ? { authorization: `Bearer ${hub.token}` } : {}),
        },
      }),
    catch: (error) => new HubUnreachableError({ endpoint: hub.endpoint, url, reason: causeText(error) }),
  }).pipe(
    Effect.flatMap(
      (response): Effect.Effect<RemoteFile, HubAuthError | HubRequestError | HubUnreachableError> => {
        if (response.status === 401 || response.status === 403)
          return Effect.fail(
            new HubAuthError({
              repo: hub.repo,
              url,
              status: response.status,
              hadToken: hub.token !== undefined,
            }),
          )
        if (response.status >= 400)
          return Effect.fail(
            new HubRequestError({
              url,
              status: response.status,
              reason: response.statusText || "HEAD failed",
            }),
          )
        const headers = response.headers
        const size = Number(headers.get("x-linked-size") ?? headers.get("content-length") ?? Number.NaN)
        const etag = (headers.get("x-linked-etag") ?? headers.get("etag") ?? "")
          .replace(/^W\//, "")
          .replace(/"/g, "")
        if (!Number.isSafeInteger(size) || size < 0)
          return Effect.fail(
            new HubRequestError({
              url,
              status: response.status,
              reason: "response gives no X-Linked-Size or Content-Length",
            }),
          )
        return Effect.succeed<RemoteFile>({
          path: file,
          size,
          ...(HEX64.test(etag) ? { sha256: etag.toLowerCase() } : {}),
          ...(HEX40.test(etag) ? { gitSha1: etag.toLowerCase() } : {}),
        })
      },
    ),
  )
}
