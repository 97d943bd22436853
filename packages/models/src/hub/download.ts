import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { DownloadIncompleteError, HubAuthError, HubRequestError, IntegrityError } from "../errors.ts"
import type { HubLocation, RemoteFile } from "./listing.ts"
import type { ProgressListener } from "./progress.ts"

export interface DownloadOptions {
  readonly hub: HubLocation
  readonly file: RemoteFile
  /** Final path; bytes go to `<dest>.partial` until they are complete and verified. */
  readonly dest: string
  /** How many times a dropped connection is resumed before giving up (the partial file is kept). */
  readonly retries: number
  readonly retryDelayMs: number
  /** A transfer that delivers no byte for this long counts as a dropped connection (and is resumed). */
  readonly stallTimeoutMs?: number
  readonly onProgress: ProgressListener
}

const DEFAULT_STALL_TIMEOUT_MS = 60_000

export type DownloadError = HubAuthError | HubRequestError | DownloadIncompleteError | IntegrityError

export const PARTIAL_SUFFIX = ".partial"

/** `<endpoint>/<repo>/resolve/<revision>/<file>`: the hub's download URL (redirects to its CDN). */
export const resolveUrl = (hub: Pick<HubLocation, "endpoint" | "repo" | "revision">, file: string): string =>
  `${hub.endpoint}/${hub.repo}/resolve/${encodeURIComponent(hub.revision)}/${file.split("/").map(encodeURIComponent).join("/")}`

/** Hashes of everything written so far; a resumed download first re-reads the partial file. */
class ContentHashes {
  private readonly sha256 = crypto.createHash("sha256")
  private readonly gitSha1 = crypto.createHash("sha1")
  constructor(size: number) {
    this.gitSha1.update(`blob ${size}\0`)
  }
  update(chunk: Uint8Array) {
    this.sha256.update(chunk)
    this.gitSha1.update(chunk)
  }
  digest() {
    return { sha256: this.sha256.digest("hex"), gitSha1: this.gitSha1.digest("hex") }
  }
}

const hashExisting = async (file: string, hashes: ContentHashes) => {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 }))
    hashes.update(chunk as Buffer)
}

const fileSize = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal.addEventListener("abort", onAbort, { once: true })
  })

/** Thrown inside an attempt when the connection breaks: the caller resumes. */
class ConnectionLost {
  constructor(readonly reason: string) {}
}

const describe = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  const base = error instanceof Error ? error.message : String(error)
  return cause?.code ? `${base}: ${cause.code}` : cause?.message ? `${base}: ${cause.message}` : base
}

const PROGRESS_INTERVAL_MS = 100

/**
 * One attempt: asks for the bytes after what `<dest>.partial` already holds and appends them.
 * Returns when the server has sent everything; throws ConnectionLost when it stops early.
 */
const attempt = async (
  options: DownloadOptions,
  partial: string,
  signal: AbortSignal,
  hashes: { current: ContentHashes },
) => {
  const { hub, file, onProgress } = options
  const url = resolveUrl(hub, file.path)
  let offset = fileSize(partial)
  const headers: Record<string, string> = {}
  if (hub.token) headers.authorization = `Bearer ${hub.token}`
  if (offset > 0) headers.range = `bytes=${offset}-`
  // Aborted by the caller (signal) or, mid-transfer, when no byte came for stallTimeoutMs.
  const transfer = new AbortController()
  if (signal.aborted) transfer.abort(signal.reason)
  else signal.addEventListener("abort", () => transfer.abort(signal.reason), { once: true })
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
  let stall: ReturnType<typeof setTimeout> | undefined
  const armStall = () => {
    clearTimeout(stall)
    stall = setTimeout(() => transfer.abort(new ConnectionLost(`no data for ${stallMs / 1000} s`)), stallMs)
  }
  let response: Response
  try {
    response = await hub.fetch(url, { headers, signal: transfer.signal, redirect: "follow" })
  } catch (error) {
    if (signal.aborted) throw error
    throw new ConnectionLost(describe(error))
  }
  if (response.status === 401 || response.status === 403)
    throw new HubAuthError({
      repo: hub.repo,
      url,
      status: response.status,
      hadToken: hub.token !== undefined,
    })
  if (response.status === 416) {
    await response.body?.cancel()
    if (offset === file.size) return
    fs.truncateSync(partial, 0)
    hashes.current = new ContentHashes(file.size)
    throw new ConnectionLost(`server refused to resume at byte ${offset}`)
  }
  if (offset > 0 && response.status === 200) {
    // The server ignored the Range header and sends the whole file: start over with it.
    fs.truncateSync(partial, 0)
    hashes.current = new ContentHashes(file.size)
    offset = 0
  }
  if (response.status !== 200 && response.status !== 206)
    throw new HubRequestError({
      url,
      status: response.status,
      reason: (await response.text().catch(() => "")).slice(0, 300) || response.statusText,
    })
  if (response.status === 206) {
    const range = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")
    if (!range || Number(range[1]) !== offset)
      throw new HubRequestError({
        url,
        status: 206,
        reason: `asked for bytes from ${offset}, got Content-Range "${response.headers.get("content-range")}"`,
      })
  }
  onProgress({ _tag: "Started", file: file.path, size: file.size, resumeFrom: offset })
  const fd = fs.openSync(partial, offset === 0 ? "w" : "a")
  let received = offset
  let lastReport = 0
  try {
    if (!response.body) throw new ConnectionLost("response has no body")
    armStall()
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      armStall()
      if (received + chunk.length > file.size)
        throw new IntegrityError({
          file: file.path,
          check: "size",
          expected: String(file.size),
          actual: `more than ${file.size}`,
        })
      fs.writeSync(fd, chunk)
      hashes.current.update(chunk)
      received += chunk.length
      const now = Date.now()
      if (now - lastReport >= PROGRESS_INTERVAL_MS || received === file.size) {
        lastReport = now
        onProgress({ _tag: "Bytes", file: file.path, received, size: file.size })
      }
    }
  } catch (error) {
    if (error instanceof IntegrityError || signal.aborted) throw error
    const reason = transfer.signal.reason
    throw reason instanceof ConnectionLost ? reason : new ConnectionLost(describe(error))
  } finally {
    clearTimeout(stall)
    fs.closeSync(fd)
  }
  if (received < file.size)
    throw new ConnectionLost(`connection closed after ${received} of ${file.size} bytes`)
}

const verify = (file: RemoteFile, partial: string, digest: { sha256: string; gitSha1: string }) => {
  const size = fileSize(partial)
  if (size !== file.size)
    return new IntegrityError({
      file: file.path,
      check: "size",
      expected: String(file.size),
      actual: String(size),
    })
  if (file.sha256 && digest.sha256 !== file.sha256.toLowerCase())
    return new IntegrityError({
      file: file.path,
      check: "sha256",
      expected: file.sha256,
      actual: digest.sha256,
    })
  if (
    !file.sha256 &&
    file.gitSha1 &&
    /^[0-9a-f]{40}$/i.test(file.gitSha1) &&
    digest.gitSha1 !== file.gitSha1.toLowerCase()
  )
    return new IntegrityError({
      file: file.path,
      check: "git-sha1",
      expected: file.gitSha1,
      actual: digest.gitSha1,
    })
  return undefined
}

/**
 * Re-reads a complete file and checks it against the hub's size and hash (for `verifyCached`).
 * Resolves to the IntegrityError, or undefined when it matches.
 */
export const verifyFile = (
  file: RemoteFile,
  local: string,
): Effect.Effect<IntegrityError | undefined, HubRequestError> =>
  Effect.tryPromise({
    try: async () => {
      const hashes = new ContentHashes(fileSize(local))
      await hashExisting(local, hashes)
      return verify(file, local, hashes.digest())
    },
    catch: (error) =>
      new HubRequestError({ url: local, reason: `cannot read the cached file: ${describe(error)}` }),
  })

const download = async (options: DownloadOptions, signal: AbortSignal): Promise<void> => {
  const { file, dest, onProgress } = options
  const partial = dest + PARTIAL_SUFFIX
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  if (fileSize(partial) > file.size) fs.truncateSync(partial, 0)
  const hashes = { current: new ContentHashes(file.size) }
  if (fileSize(partial) > 0) await hashExisting(partial, hashes.current)
  for (let failures = 0; ; ) {
    try {
      await attempt(options, partial, signal, hashes)
      break
    } catch (error) {
      if (!(error instanceof ConnectionLost)) throw error
      failures++
      const resumeFrom = fileSize(partial)
      if (failures > options.retries)
        throw new DownloadIncompleteError({
          file: file.path,
          partialPath: partial,
          received: resumeFrom,
          expected: file.size,
          reason: error.reason,
        })
      onProgress({ _tag: "Retrying", file: file.path, attempt: failures, resumeFrom, reason: error.reason })
      await sleep(Math.min(options.retryDelayMs * 2 ** (failures - 1), 30_000), signal)
    }
  }
  onProgress({ _tag: "Verifying", file: file.path })
  const failure = verify(file, partial, hashes.current.digest())
  if (failure) {
    fs.rmSync(partial, { force: true })
    throw failure
  }
  fs.renameSync(partial, dest)
  onProgress({ _tag: "Downloaded", file: file.path, path: dest, size: file.size })
}

/**
 * Downloads one file into `dest` with HTTP Range resume: bytes land in `<dest>.partial`, a dropped
 * connection resumes from there (also in a later run), and only a file whose size and hash match
 * what the hub announced is renamed to `dest`.
 */
export const downloadFile = (options: DownloadOptions): Effect.Effect<string, DownloadError> =>
  Effect.tryPromise({
    try: (signal) => download(options, signal).then(() => options.dest),
    catch: (error) =>
      error instanceof HubAuthError ||
      error instanceof HubRequestError ||
      error instanceof DownloadIncompleteError ||
      error instanceof IntegrityError
        ? error
        : new HubRequestError({ url: resolveUrl(options.hub, options.file.path), reason: describe(error) }),
  })
