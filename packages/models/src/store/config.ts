import * as os from "node:os"
import * as path from "node:path"
import { PERSONAPLEX_REPO } from "../files.ts"
import { type Env, findHuggingFaceToken } from "../hub/token.ts"

export interface ModelStoreConfig {
  /** A folder that already holds the release files: used as is; the network is never touched. */
  readonly localDir?: string
  /** Where downloads go: `<cacheDir>/<owner>--<name>/<revision>/<file>`. */
  readonly cacheDir: string
  /** Hub base URL (`HF_ENDPOINT`, default https://huggingface.co). */
  readonly endpoint: string
  readonly repo: string
  readonly revision: string
  readonly token?: string
  /** Where the token came from (an env variable name or a file), for messages. */
  readonly tokenSource?: string
  /** Cache only, never the network (`HF_HUB_OFFLINE=1`). */
  readonly offline: boolean
  /** Resumptions of a dropped download before giving up (the partial file stays for the next run). */
  readonly retries: number
  readonly retryDelayMs: number
  /**
   * How long one request waits for the hub's response headers before it counts as failed (and is
   * retried): `HF_HUB_DOWNLOAD_TIMEOUT` seconds as for huggingface_hub, default 15 s.
   */
  readonly requestTimeoutMs: number
  /** A download that receives no byte for this long is resumed on a new connection (default 60 s). */
  readonly stallTimeoutMs: number
  /** While a request waits, a `Waiting` progress event every this many ms (default 5 s). */
  readonly waitingNoticeMs: number
  readonly fetch: typeof globalThis.fetch
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000

export const DEFAULT_ENDPOINT = "https://huggingface.co"

/** `$PERSONAPLEX_CACHE`, else `$XDG_CACHE_HOME/personaplex`, else `~/.cache/personaplex`. */
export const defaultCacheDir = (env: Env = process.env): string =>
  env.PERSONAPLEX_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "personaplex")

const truthy = (value: string | undefined) =>
  value !== undefined && ["1", "true", "yes", "on"].includes(value.toLowerCase())

const secondsFromEnv = (value: string | undefined) => {
  const seconds = Number(value)
  return value !== undefined && value.trim() !== "" && seconds > 0 ? seconds * 1000 : undefined
}

/** The configuration from the environment (HF_ENDPOINT, HF_TOKEN / token file, HF_HUB_OFFLINE, HF_HUB_DOWNLOAD_TIMEOUT, PERSONAPLEX_CACHE) plus overrides. */
export const modelStoreConfig = (
  overrides: Partial<ModelStoreConfig> = {},
  env: Env = process.env,
): ModelStoreConfig => {
  const found =
    overrides.token === undefined
      ? findHuggingFaceToken(env)
      : { token: overrides.token, source: overrides.tokenSource ?? "option" }
  const endpoint = (overrides.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")
  return {
    cacheDir: overrides.cacheDir ?? defaultCacheDir(env),
    repo: overrides.repo ?? PERSONAPLEX_REPO,
    revision: overrides.revision ?? "main",
    offline: overrides.offline ?? truthy(env.HF_HUB_OFFLINE),
    retries: overrides.retries ?? 5,
    retryDelayMs: overrides.retryDelayMs ?? 1000,
    requestTimeoutMs:
      overrides.requestTimeoutMs ?? secondsFromEnv(env.HF_HUB_DOWNLOAD_TIMEOUT) ?? DEFAULT_REQUEST_TIMEOUT_MS,
    stallTimeoutMs: overrides.stallTimeoutMs ?? 60_000,
    waitingNoticeMs: overrides.waitingNoticeMs ?? 5_000,
    fetch: overrides.fetch ?? globalThis.fetch,
    ...(overrides.localDir ? { localDir: overrides.localDir } : {}),
    ...(found ? { token: found.token, tokenSource: found.source } : {}),
    endpoint,
  }
}
