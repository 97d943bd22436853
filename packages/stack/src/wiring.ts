import * as fs from "node:fs"
import * as path from "node:path"
import { type AudioError, loadMono24k, loadThinkingClip } from "@personaplex/audio-io"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { Compactor } from "@personaplex/compaction"
import { LmBatch, LmConfig, LmGen, loadVoicePrompt, TextTokenizer, VoicePrompt } from "@personaplex/lm"
import type { LoopOptions } from "@personaplex/loop"
import { ModelStore, readTorchVoicePrompt } from "@personaplex/models"
import { OrtSession } from "@personaplex/runtime"
import { Transcriber, type TranscriberLoadError } from "@personaplex/transcriber"
import { VoiceActivity } from "@personaplex/vad"
import { Data, Effect, Layer } from "effect"
import { defined } from "./defined.ts"
import type { ModelSource, RunSettings } from "./settings.ts"

/** A file named in the settings that cannot be used as what it was named for. */
export class SettingsFileError extends Data.TaggedError("SettingsFileError")<{
  readonly field: string
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.field}: ${this.path}: ${this.reason}`
  }
}

export interface ModelFiles {
  readonly mimi: string
  readonly lm: string
  readonly tokenizer: string
  readonly mimiConfig?: MimiConfig
  readonly lmConfig?: LmConfig
}

const readJsonConfig = <C>(field: string, file: string, parse: (json: unknown) => C) =>
  Effect.try({
    try: () => parse(JSON.parse(fs.readFileSync(file, "utf8"))),
    catch: (error) => new SettingsFileError({ field, path: file, reason: (error as Error).message }),
  })

const mustExist = (field: string, file: string) =>
  fs.existsSync(file)
    ? Effect.succeed(file)
    : Effect.fail(new SettingsFileError({ field, path: file, reason: "no such file or folder" }))

/** The model files of the settings: given paths, a local release folder, or the Hugging Face cache (downloading). */
export const resolveModelFiles = (source: ModelSource) =>
  Effect.gen(function* () {
    if (source._tag === "Files") {
      const mimi = yield* mustExist("model.mimi", source.mimi)
      const lm = yield* mustExist("model.lm", source.lm)
      const tokenizer = yield* mustExist("model.tokenizer", source.tokenizer)
      const mimiConfig =
        source.mimiConfig === undefined
          ? undefined
          : yield* readJsonConfig("model.mimi_config", source.mimiConfig, MimiConfig.fromJson)
      const lmConfig =
        source.lmConfig === undefined
          ? undefined
          : yield* readJsonConfig("model.lm_config", source.lmConfig, LmConfig.fromJson)
      return defined<ModelFiles>({ mimi, lm, tokenizer, mimiConfig, lmConfig })
    }
    const store =
      source._tag === "Folder"
        ? ModelStore.layerLocal(source.dir)
        : ModelStore.layer(defined({ repo: source.repo }))
    const files = yield* ModelStore.use((s) => s.resolve({ files: ["lm", "mimi", "textTokenizer"] })).pipe(
      Effect.provide(store),
    )
    return { mimi: files.mimi!, lm: files.lm!, tokenizer: files.textTokenizer! } satisfies ModelFiles
  })

/** Prints the weight conversion's progress (a first run on new weights) on stderr, every tenth. */
const conversionProgress = () => {
  let shown = -1
  return (done: number, total: number) => {
    const tenth = Math.floor((10 * done) / total)
    if (tenth === shown) return
    shown = tenth
    process.stderr.write(`converting LM weights: ${10 * tenth}% of ${(total / 2 ** 30).toFixed(1)} GiB\n`)
  }
}

/** The onnxruntime worker of the settings' device (`OrtSession`): each build is a worker of its own. */
export const runtimeLayer = (settings: RunSettings) =>
  OrtSession.layer(
    defined({
      executionProviders: settings.device === "cpu" ? ["cpu"] : [settings.device, "cpu"],
      intraOpThreads: settings.threads ?? 2,
    }),
  )

/** Mimi of the settings on the `OrtSession` it is given (`codecRuntimeLayer`'s where it has its own). */
export const codecLayer = (settings: RunSettings, files: ModelFiles) =>
  MimiCodec.layer(
    defined({
      checkpoint: files.mimi,
      config: files.mimiConfig,
      // A captured graph replays only GPU work, so no node may fall back to the CPU.
      ...(settings.graphCapture && settings.codecDevice !== "cpu"
        ? { graphCapture: true, disableCpuFallback: true }
        : {}),
    }),
  )

/**
 * The CPU worker of a codec that does not share the LM's device (`runtime.codec_device: cpu` beside
 * a webgpu LM), or undefined where Mimi runs on the LM's `runtimeLayer`.
 */
export const codecRuntimeLayer = (settings: RunSettings) =>
  settings.codecDevice === settings.device
    ? undefined
    : OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: settings.codecThreads ?? 1 })

/** The LM options of the settings, whichever form runs them (`LmGen` or `LmBatch`). */
const lmOptions = (settings: RunSettings, files: ModelFiles) =>
  defined({
    checkpoint: files.lm,
    config: files.lmConfig,
    sampling: settings.sampling,
    context: settings.context,
    quantization: settings.quantization,
    int8Activations: settings.int8Activations,
    graphCapture: settings.graphCapture,
    cacheDir: settings.cacheDir,
    onConvertProgress: conversionProgress(),
  })

/**
 * Mimi + LM on onnxruntime with the settings' execution provider: on WebGPU the fused LM step and
 * Mimi, both replaying captured graphs (the fastest schedule the benchmark found), on the CPU the
 * two-graph LM. The web server and the benchmark build theirs here too.
 */
export const modelLayer = (settings: RunSettings, files: ModelFiles) => {
  const lm = LmGen.layer({ ...lmOptions(settings, files), engine: settings.engine })
  const ownRuntime = codecRuntimeLayer(settings)
  if (ownRuntime === undefined)
    return Layer.mergeAll(codecLayer(settings, files), lm).pipe(Layer.provide(runtimeLayer(settings)))
  return Layer.mergeAll(
    codecLayer(settings, files).pipe(Layer.provide(ownRuntime)),
    lm.pipe(Layer.provide(runtimeLayer(settings))),
  )
}

/**
 * The settings' LM as one `LmBatch` of `maxSessions` conversations (the fused step, opened at the size
 * holding them all, so no session's join grows it), on the `OrtSession` it is given. Each conversation
 * then joins it and needs a codec of its own (`codecLayer`).
 */
export const lmBatchLayer = (settings: RunSettings, files: ModelFiles, maxSessions: number) =>
  LmBatch.layer({ ...lmOptions(settings, files), maxSessions, initialSessions: maxSessions })

export const compactorLayer = (settings: RunSettings) => {
  const deadline = settings.compactionDeadlineMs
  switch (settings.compactor._tag) {
    case "LlamaCpp":
      return Compactor.llamaCpp(
        defined({
          modelPath: settings.compactor.path,
          maxThreads: settings.compactor.threads ?? 2,
          gpu: settings.compactor.gpu,
          gpuLayers: settings.compactor.gpuLayers,
          // The compactor warms up the instructions written for the loop's word budget.
          wordBudget: settings.wordBudget,
          deadline,
        }),
      )
    case "OpenAi":
      return Compactor.openAiCompatible({
        baseUrl: settings.compactor.url,
        model: settings.compactor.model,
        deadline,
      })
    case "ModelFree":
      return Compactor.modelFree
  }
}

/**
 * The detector that listens to the user for `switch: pause`. Silero runs on the CPU in an
 * onnxruntime worker of its own, beside the LM's.
 */
export const voiceActivityLayer = (detector: RunSettings["vad"]) =>
  detector === "energy"
    ? VoiceActivity.energy()
    : VoiceActivity.silero().pipe(
        Layer.provide(OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: 1 })),
      )

/** The recognizer of the user's speech when the settings name one; nothing otherwise (the loop runs without it). */
export const transcriberLayer = (
  settings: RunSettings,
): Layer.Layer<Transcriber, TranscriberLoadError> | Layer.Layer<never> =>
  settings.transcriber === undefined
    ? Layer.empty
    : Transcriber.layer({
        source: settings.transcriber.source,
        dtype: settings.transcriber.dtype,
        threads: settings.transcriber.threads,
      })

/**
 * What listens to the user's stream, to build anew for each conversation (their state follows one
 * stream): the voice-activity detector for `switch: pause`, the transcriber when configured.
 */
export const listenersLayer = (settings: RunSettings) =>
  Layer.mergeAll(
    // No detector for `switch: fixed`: the loop then cuts by duration alone, as it always did.
    settings.switchPolicy.mode === "pause" ? voiceActivityLayer(settings.vad) : Layer.empty,
    transcriberLayer(settings),
  )

/**
 * Codec, LM, tokenizer, compactor, and what listens to the user (`listenersLayer`): everything but
 * the audio ends.
 */
export const engineLayer = (settings: RunSettings, files: ModelFiles) =>
  Layer.mergeAll(
    modelLayer(settings, files),
    TextTokenizer.layer(files.tokenizer),
    compactorLayer(settings),
    listenersLayer(settings),
  )

/** A voice from a WAV file (encoded at each window start) or a voice cache (ours or upstream's `.pt`). */
export const loadVoice = (file: string) =>
  Effect.gen(function* () {
    yield* mustExist("voice", file)
    const ext = path.extname(file).toLowerCase()
    if (ext === ".pt") {
      const torch = yield* readTorchVoicePrompt(file)
      return VoicePrompt.cached(torch.embeddings, torch.frames, torch.cache) as VoicePrompt
    }
    if (ext === ".safetensors") return (yield* loadVoicePrompt(file)) as VoicePrompt
    return VoicePrompt.audio(yield* loadMono24k(file)) as VoicePrompt
  })

/** The loop's options from the settings (loads the voice and the thinking clip). */
export const loopOptions = (
  settings: RunSettings,
  extra: {
    readonly reportPath: string
    readonly reportMeta: Record<string, unknown>
    /** When the run began (before the models loaded), for the report's time to the first frame. */
    readonly startedAtMs?: number
  },
) =>
  Effect.gen(function* () {
    const voice = settings.voice === undefined ? undefined : yield* loadVoice(settings.voice)
    const thinkingClip = yield* loadThinkingClip(settings.thinkingClip).pipe(
      Effect.mapError(
        (e: AudioError) =>
          new SettingsFileError({
            field: "conversation.thinking_clip",
            path: settings.thinkingClip,
            reason: e.message,
          }),
      ),
    )
    return defined<LoopOptions>({
      windowFrames: settings.windowFrames,
      initialPrompt: settings.initialPrompt,
      voice,
      thinkingClip,
      pace: settings.pace,
      switchPolicy: settings.switchPolicy,
      earlyCompaction: settings.earlyCompaction,
      thinkingClipMinMs: settings.thinkingClipMinMs,
      wordBudget: settings.wordBudget,
      compactionDeadlineMs: settings.compactionDeadlineMs + 1000,
      maxInputFrames: settings.maxInputFrames,
      reportPath: extra.reportPath,
      reportMeta: extra.reportMeta,
      startedAtMs: extra.startedAtMs,
    })
  })
