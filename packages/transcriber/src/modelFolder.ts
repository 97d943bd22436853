import * as fs from "node:fs"
import * as path from "node:path"
import {
  downloadFile,
  type HubLocation,
  headRemoteFile,
  type ModelStoreConfig,
  modelStoreConfig,
  type ProgressListener,
  withRequestTimeout,
} from "@personaplex/models"
import { Effect } from "effect"
import { TranscriberModelError, TranscriberModelMissingError } from "./errors.ts"

/** Where the recognizer's files are: a folder on disk, or a Hugging Face repository (through the cache). */
export type TranscriberModelSource =
  | { readonly folder: string }
  | { readonly repo: string; readonly revision?: string }

/** The ONNX variants transformers.js reads, by the suffix of their file names. */
export const DTYPE_SUFFIX = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
} as const

export type TranscriberDtype = keyof typeof DTYPE_SUFFIX

/** The model families this layer runs (the `model_type` of config.json). */
export const FAMILIES = ["moonshine"] as const
export type TranscriberFamily = (typeof FAMILIES)[number]

export interface ResolvedTranscriberModel {
  readonly folder: string
  /** "local": the configured folder; "cache": all already downloaded; "hub": something was downloaded now. */
  readonly location: "local" | "cache" | "hub"
  readonly family: TranscriberFamily
  readonly dtype: TranscriberDtype
  /** The files it needs, relative to `folder`. */
  readonly files: ReadonlyArray<string>
}

const CONFIG_FILES = ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"]

/** The sessions of an encoder-decoder speech model in transformers.js's layout. */
export const onnxFiles = (dtype: TranscriberDtype): ReadonlyArray<string> =>
  ["encoder_model", "decoder_model_merged"].map((name) => `onnx/${name}${DTYPE_SUFFIX[dtype]}.onnx`)

const isFile = (file: string) => {
  try {
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** The family named by `config.json`, or why it cannot be used. */
const familyOf = (folder: string, source: string): Effect.Effect<TranscriberFamily, TranscriberModelError> =>
  Effect.try({
    try: () =>
      JSON.parse(fs.readFileSync(path.join(folder, "config.json"), "utf8")) as { model_type?: unknown },
    catch: (cause) =>
      new TranscriberModelError({ source, reason: `config.json does not parse: ${String(cause)}` }),
  }).pipe(
    Effect.flatMap((config) =>
      FAMILIES.includes(config.model_type as TranscriberFamily)
        ? Effect.succeed(config.model_type as TranscriberFamily)
        : Effect.fail(
            new TranscriberModelError({
              source,
              reason: `config.json names model_type ${JSON.stringify(config.model_type)}; this layer runs ${FAMILIES.join(", ")}`,
            }),
          ),
    ),
  )

const resolveLocal = (folder: string, dtype: TranscriberDtype) =>
  Effect.gen(function* () {
    const files = [...CONFIG_FILES, ...onnxFiles(dtype)]
    const missing = files.find((file) => !isFile(path.join(folder, file)))
    if (missing !== undefined)
      return yield* Effect.fail(
        new TranscriberModelMissingError({
          folder,
          file: missing,
          hint: missing.startsWith("onnx/")
            ? `copy it from the model's Hugging Face repository, or pick a dtype whose files are there (${dtype} reads ${onnxFiles(dtype).join(", ")})`
            : "copy it from the model's Hugging Face repository, or give a repository instead of a folder",
        }),
      )
    const family = yield* familyOf(folder, folder)
    return { folder, location: "local", family, dtype, files } satisfies ResolvedTranscriberModel
  })

const resolveFromHub = (
  repo: string,
  revision: string,
  dtype: TranscriberDtype,
  config: ModelStoreConfig,
  onProgress: ProgressListener,
) =>
  Effect.gen(function* () {
    const source = `${repo}@${revision}`
    const folder = path.join(config.cacheDir, repo.replace("/", "--"), revision)
    const files = [...CONFIG_FILES, ...onnxFiles(dtype)]
    const hub: HubLocation = {
      endpoint: config.endpoint,
      repo,
      revision,
      token: config.token,
      fetch: withRequestTimeout(config.fetch, {
        timeoutMs: config.requestTimeoutMs,
        noticeMs: config.waitingNoticeMs,
        onWaiting: (url, elapsedMs) => onProgress({ _tag: "Waiting", url, elapsedMs }),
      }),
    }
    const hubError = (error: { readonly message: string }) =>
      new TranscriberModelError({ source, reason: error.message })
    let downloaded = false
    for (const file of files) {
      const dest = path.join(folder, file)
      if (isFile(dest) && !fs.existsSync(`${dest}.partial`)) {
        onProgress({ _tag: "Cached", file, path: dest, size: fs.statSync(dest).size })
        continue
      }
      if (config.offline)
        return yield* Effect.fail(
          new TranscriberModelMissingError({
            folder,
            file,
            hint: "HF_HUB_OFFLINE is set, so nothing is downloaded: run once online or point to a local folder",
          }),
        )
      const remote = yield* headRemoteFile(hub, file).pipe(Effect.mapError(hubError))
      fs.mkdirSync(path.dirname(dest), { recursive: true })
      yield* downloadFile({
        hub,
        file: remote,
        dest,
        retries: config.retries,
        retryDelayMs: config.retryDelayMs,
        stallTimeoutMs: config.stallTimeoutMs,
        onProgress,
      }).pipe(Effect.mapError(hubError))
      downloaded = true
    }
    const family = yield* familyOf(folder, source)
    return {
      folder,
      location: downloaded ? "hub" : "cache",
      family,
      dtype,
      files,
    } satisfies ResolvedTranscriberModel
  })

export interface ResolveModelOptions {
  readonly dtype?: TranscriberDtype
  /** Cache folder, endpoint, token, offline: `@personaplex/models`' store settings (environment by default). */
  readonly store?: Partial<ModelStoreConfig>
  readonly onProgress?: ProgressListener
}

/**
 * Finds the recognizer's files: a local folder is used as is (never the network); a repository is
 * served from the cache (`<cacheDir>/<owner>--<name>/<revision>/`), files missing there downloaded
 * with `@personaplex/models`' resumable, verified downloads.
 */
export const resolveTranscriberModel = (
  source: TranscriberModelSource,
  options: ResolveModelOptions = {},
): Effect.Effect<ResolvedTranscriberModel, TranscriberModelMissingError | TranscriberModelError> => {
  const dtype = options.dtype ?? "fp32"
  if ("folder" in source) return resolveLocal(source.folder, dtype)
  return resolveFromHub(
    source.repo,
    source.revision ?? "main",
    dtype,
    modelStoreConfig({ ...options.store, repo: source.repo }),
    options.onProgress ?? (() => {}),
  )
}
