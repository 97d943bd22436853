import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, type SafetensorsFormatError } from "@personaplex/runtime"
import { Context, Effect, Layer, Queue, Stream } from "effect"
import { detectModel, type ModelKind, modelKindLabel } from "../checkpoint/detect.ts"
import {
  type ArchiveError,
  type DownloadIncompleteError,
  type HubAuthError,
  HubRequestError,
  HubUnreachableError,
  type IntegrityError,
  ModelFileMissingError,
  WrongModelError,
} from "../errors.ts"
import { ALL_FILES, type PersonaPlexFile, PersonaPlexFiles } from "../files.ts"
import { downloadFile, verifyFile } from "../hub/download.ts"
import { type HubLocation, headRemoteFile, listRepoFiles, type RemoteFile } from "../hub/listing.ts"
import type { ProgressEvent, ProgressListener } from "../hub/progress.ts"
import { withRequestTimeout } from "../hub/timedFetch.ts"
import { type ModelStoreConfig, modelStoreConfig } from "./config.ts"
import { extractVoices } from "./voicesArchive.ts"

/** Paths of the resolved release files; a field is present when that file was asked for. */
export interface ModelFiles {
  /** "local": the configured folder; "cache": all already downloaded; "hub": something was downloaded now. */
  readonly source: "local" | "cache" | "hub"
  readonly folder: string
  readonly lm?: string
  readonly mimi?: string
  readonly textTokenizer?: string
  readonly voicesArchive?: string
  /** The extracted voices folder (`NATF0.pt` …). */
  readonly voices?: string
}

export interface ResolveOptions {
  /** Which files (default: all four). */
  readonly files?: ReadonlyArray<PersonaPlexFile>
  readonly onProgress?: ProgressListener
  /** Re-hash cached files against the hub's listing (slow for 16 GB); a mismatching file is downloaded again. */
  readonly verifyCached?: boolean
}

export type ModelStoreError =
  | HubAuthError
  | HubRequestError
  | HubUnreachableError
  | DownloadIncompleteError
  | IntegrityError
  | ModelFileMissingError
  | ArchiveError
  | WrongModelError
  | SafetensorsFormatError

export type FetchEvent = ProgressEvent | { readonly _tag: "Ready"; readonly files: ModelFiles }

export interface ModelStoreShape {
  readonly config: ModelStoreConfig
  /** Finds the files locally, in the cache, or downloads them (resuming, verifying); extracts the voices. */
  resolve(options?: ResolveOptions): Effect.Effect<ModelFiles, ModelStoreError>
  /** `resolve` as a stream of progress events ending with `Ready`. */
  fetch(options?: Omit<ResolveOptions, "onProgress">): Stream.Stream<FetchEvent, ModelStoreError>
}

const EXPECTED_KIND: Partial<Record<PersonaPlexFile, ModelKind>> = { lm: "moshi-lm", mimi: "mimi" }

/** Opens the safetensors header and checks the tensors belong to the expected model. */
const checkModelKind = (file: string, expected: ModelKind) =>
  Effect.scoped(
    Effect.gen(function* () {
      const checkpoint = yield* Checkpoint.open(file)
      const detection = detectModel(checkpoint)
      if (detection.kind !== expected)
        return yield* Effect.fail(
          new WrongModelError({
            path: file,
            expected: modelKindLabel(expected),
            detected:
              detection.kind === "unknown"
                ? `${checkpoint.names.length} tensors of an unknown model`
                : modelKindLabel(detection.kind),
            reason: detection.reason,
          }),
        )
    }),
  )

const checkKinds = (files: ModelFiles, wanted: ReadonlyArray<PersonaPlexFile>) =>
  Effect.forEach(wanted, (key) => {
    const expected = EXPECTED_KIND[key]
    const file = files[key as "lm" | "mimi"]
    return expected && file ? checkModelKind(file, expected) : Effect.void
  }).pipe(Effect.as(files))

const isFile = (file: string) => fs.existsSync(file) && fs.statSync(file).isFile()
const isDir = (dir: string) => fs.existsSync(dir) && fs.statSync(dir).isDirectory()

const withPath = (files: Record<string, string>, key: PersonaPlexFile, file: string) => {
  files[key === "voices" ? "voicesArchive" : key] = file
}

/** A local folder: never touches the network. `voices/` may be extracted already or come as voices.tgz. */
const resolveLocal = (folder: string, wanted: ReadonlyArray<PersonaPlexFile>, onProgress: ProgressListener) =>
  Effect.gen(function* () {
    const found: Record<string, string> = {}
    for (const key of wanted) {
      const file = path.join(folder, PersonaPlexFiles[key])
      if (key === "voices" && isDir(path.join(folder, "voices"))) {
        found.voices = path.join(folder, "voices")
        if (isFile(file)) found.voicesArchive = file
        continue
      }
      if (!isFile(file))
        return yield* Effect.fail(
          new ModelFileMissingError({
            folder,
            file: PersonaPlexFiles[key],
            hint:
              key === "voices"
                ? "put voices.tgz or an extracted voices/ folder there (offline use never downloads)"
                : "copy it there from the Hugging Face release, or resolve without a local folder to download it",
          }),
        )
      withPath(found, key, file)
      if (key === "voices") {
        const into = path.join(folder, "voices")
        onProgress({ _tag: "Extracting", file: PersonaPlexFiles.voices, into })
        found.voices = yield* extractVoices(file, into)
      }
    }
    return { source: "local", folder, ...found } as ModelFiles
  })

const cacheFolder = (config: ModelStoreConfig) =>
  path.join(config.cacheDir, config.repo.replace("/", "--"), config.revision)

const completeInCache = (folder: string, key: PersonaPlexFile) => {
  const file = path.join(folder, PersonaPlexFiles[key])
  return key === "voices" ? isFile(file) && isDir(path.join(folder, "voices")) : isFile(file)
}

const cachedFiles = (folder: string, wanted: ReadonlyArray<PersonaPlexFile>): ModelFiles => {
  const found: Record<string, string> = {}
  for (const key of wanted) {
    withPath(found, key, path.join(folder, PersonaPlexFiles[key]))
    if (key === "voices") found.voices = path.join(folder, "voices")
  }
  return { source: "cache", folder, ...found } as ModelFiles
}

/** Listing attempts after the first when the hub is unreachable (none when the cache could serve instead). */
const LISTING_RETRIES = 2

/** The listing, tried again with backoff (and a `RetryingRequest` event) while the hub cannot be reached. */
const listWithRetries = (
  hub: HubLocation,
  config: ModelStoreConfig,
  onProgress: ProgressListener,
  allCached: boolean,
  attempt = 0,
): ReturnType<typeof listRepoFiles> =>
  listRepoFiles(hub).pipe(
    Effect.catchIf(
      (error) => error instanceof HubUnreachableError && !allCached && attempt < LISTING_RETRIES,
      (error) => {
        const delayMs = Math.min(config.retryDelayMs * 2 ** attempt, 30_000)
        const { url, reason } = error as HubUnreachableError
        onProgress({ _tag: "RetryingRequest", url, attempt: attempt + 1, reason, delayMs })
        return Effect.andThen(
          Effect.sleep(delayMs),
          listWithRetries(hub, config, onProgress, allCached, attempt + 1),
        )
      },
    ),
  )

const resolveFromHub = (
  config: ModelStoreConfig,
  wanted: ReadonlyArray<PersonaPlexFile>,
  onProgress: ProgressListener,
  verifyCached: boolean,
) =>
  Effect.gen(function* () {
    const folder = cacheFolder(config)
    const allCached = wanted.every((key) => completeInCache(folder, key))
    if (config.offline) {
      const missing = wanted.find((key) => !completeInCache(folder, key))
      if (missing)
        return yield* Effect.fail(
          new ModelFileMissingError({
            folder,
            file: PersonaPlexFiles[missing],
            hint: "HF_HUB_OFFLINE is set, so nothing is downloaded: run once online or point to a local folder",
          }),
        )
      return cachedFiles(folder, wanted)
    }
    const hub: HubLocation = {
      endpoint: config.endpoint,
      repo: config.repo,
      revision: config.revision,
      token: config.token,
      // No request waits silently: a deadline for the headers, a notice every few seconds meanwhile.
      fetch: withRequestTimeout(config.fetch, {
        timeoutMs: config.requestTimeoutMs,
        noticeMs: config.waitingNoticeMs,
        onWaiting: (url, elapsedMs) => onProgress({ _tag: "Waiting", url, elapsedMs }),
      }),
    }
    onProgress({ _tag: "Listing", repo: config.repo, endpoint: config.endpoint })
    const listing = yield* listWithRetries(hub, config, onProgress, allCached).pipe(
      Effect.map((files): ReadonlyMap<string, RemoteFile> | undefined => files),
      // Unreachable hub but everything already downloaded and verified: work offline.
      Effect.catchIf(
        (error) => error instanceof HubUnreachableError && allCached,
        () => Effect.succeed(undefined),
      ),
      // An endpoint without the tree API (some mirrors): ask each file's resolve URL instead.
      Effect.catchIf(
        (error) => error instanceof HubRequestError && error.status === 404,
        () =>
          Effect.forEach(wanted, (key) => headRemoteFile(hub, PersonaPlexFiles[key])).pipe(
            Effect.map((files) => new Map(files.map((f) => [f.path, f]))),
          ),
      ),
    )
    if (!listing) return cachedFiles(folder, wanted)
    let downloaded = false
    const found: Record<string, string> = {}
    for (const key of wanted) {
      const name = PersonaPlexFiles[key]
      const remote: RemoteFile | undefined = listing.get(name)
      if (!remote)
        return yield* Effect.fail(
          new HubRequestError({
            url: `${config.endpoint}/api/models/${config.repo}/tree/${config.revision}`,
            reason: `the repository has no file ${name} (it has ${[...listing.keys()].join(", ")})`,
          }),
        )
      const dest = path.join(folder, name)
      let cachedSize = isFile(dest) ? fs.statSync(dest).size : -1
      if (cachedSize === remote.size && verifyCached) {
        onProgress({ _tag: "Verifying", file: name })
        if (yield* verifyFile(remote, dest)) cachedSize = -2
      }
      if (cachedSize === remote.size)
        onProgress({ _tag: "Cached", file: name, path: dest, size: remote.size })
      else {
        if (cachedSize !== -1) fs.rmSync(dest)
        yield* downloadFile({
          hub,
          file: remote,
          dest,
          retries: config.retries,
          retryDelayMs: config.retryDelayMs,
          stallTimeoutMs: config.stallTimeoutMs,
          onProgress,
        })
        downloaded = true
      }
      withPath(found, key, dest)
      if (key === "voices") {
        const into = path.join(folder, "voices")
        if (!isDir(into) || cachedSize !== remote.size) {
          onProgress({ _tag: "Extracting", file: name, into })
          yield* extractVoices(dest, into)
        }
        found.voices = into
      }
    }
    return { source: downloaded ? "hub" : "cache", folder, ...found } as ModelFiles
  })

const makeStore = (config: ModelStoreConfig): ModelStoreShape => {
  const resolve = (options: ResolveOptions = {}) => {
    const wanted = options.files ?? ALL_FILES
    const onProgress = options.onProgress ?? (() => {})
    const files = config.localDir
      ? resolveLocal(config.localDir, wanted, onProgress)
      : resolveFromHub(config, wanted, onProgress, options.verifyCached === true)
    return Effect.flatMap(files, (resolved) => checkKinds(resolved, wanted))
  }
  const fetch = (options: Omit<ResolveOptions, "onProgress"> = {}) =>
    Stream.callback<FetchEvent, ModelStoreError>((queue) =>
      Effect.gen(function* () {
        const files = yield* resolve({ ...options, onProgress: (event) => Queue.offerUnsafe(queue, event) })
        Queue.offerUnsafe(queue, { _tag: "Ready", files })
        yield* Queue.end(queue)
      }),
    )
  return { config, resolve, fetch }
}

/**
 * Where the PersonaPlex release files come from: a local folder (offline), or the Hugging Face
 * hub through a cache with resumable, verified downloads.
 */
export class ModelStore extends Context.Service<ModelStore, ModelStoreShape>()(
  "@personaplex/models/ModelStore",
) {
  /** Configuration from the environment (see `modelStoreConfig`) plus overrides. */
  static layer(overrides: Partial<ModelStoreConfig> = {}): Layer.Layer<ModelStore> {
    return Layer.sync(ModelStore, () => ModelStore.of(makeStore(modelStoreConfig(overrides))))
  }

  /** A local folder only: the network is never touched. */
  static layerLocal(folder: string): Layer.Layer<ModelStore> {
    return ModelStore.layer({ localDir: folder })
  }

  static make(config: ModelStoreConfig): ModelStoreShape {
    return makeStore(config)
  }
}
