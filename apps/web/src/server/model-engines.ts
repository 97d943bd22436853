import * as os from "node:os"
import * as path from "node:path"
import { loadThinkingClip } from "@personaplex/audio-io"
import type { Compactor } from "@personaplex/compaction"
import { TextTokenizer } from "@personaplex/lm"
import {
  codecLayer,
  codecRuntimeLayer,
  compactorLayer,
  ensureSmokeModels,
  listenersLayer,
  lmBatchLayer,
  type ModelFiles,
  modelLayer,
  type RunConfig,
  type RunOverrides,
  type RunSettings,
  resolveModelFiles,
  resolveSettings,
  runtimeLayer,
  type SmokeModels,
} from "@personaplex/stack"
import { Data, Effect, Layer } from "effect"
import { EngineError } from "./errors.ts"
import { LoopEngine, type LoopRunOptions } from "./loop-engine.ts"

/** Model files for the loop: checkpoints, their architecture configs (upstream JSON layout), tokenizer. */
export interface ModelPaths {
  readonly mimi: string
  readonly mimiConfig?: string
  readonly lm: string
  readonly lmConfig?: string
  readonly tokenizer: string
}

export interface ModelEngineOptions {
  /** Input frames (80 ms) per conversation window. */
  readonly windowFrames: number
  /** The thinking clip (WAV); default audio-io's "Hmm, let me think". */
  readonly thinkingClip?: string
  /** Default: the compactor of the settings (model-free unless the config names one). */
  readonly compactor?: Layer.Layer<Compactor, unknown>
}

/** The run configuration and flags do not make settings (`resolveSettings`'s cross-field checks). */
export class EngineSettingsError extends Data.TaggedError("EngineSettingsError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message() {
    return `invalid engine settings:\n  ${this.problems.join("\n  ")}`
  }
}

/** The CLI's settings (what `personaplex run` runs with) from a validated config and flags. */
export const settingsFromConfig = (
  config: RunConfig,
  overrides: RunOverrides = {},
): Effect.Effect<RunSettings, EngineSettingsError> => {
  const resolved = resolveSettings(config, overrides)
  return "problems" in resolved
    ? Effect.fail(new EngineSettingsError({ problems: resolved.problems }))
    : Effect.succeed(resolved.settings)
}

/** How the loop runs under the settings (as `personaplex run`), whatever builds its models. */
const loopRunOptions = (settings: RunSettings) =>
  Effect.map(
    loadThinkingClip(settings.thinkingClip).pipe(
      Effect.mapError(
        (cause) =>
          new EngineError({ reason: `cannot load the thinking clip ${settings.thinkingClip}`, cause }),
      ),
    ),
    (thinkingClip) =>
      ({
        windowFrames: settings.windowFrames,
        switchPolicy: settings.switchPolicy,
        listeners: listenersLayer(settings),
        ...(settings.earlyCompaction === undefined ? {} : { earlyCompaction: settings.earlyCompaction }),
        ...(settings.thinkingClipMinMs === undefined
          ? {}
          : { thinkingClipMinMs: settings.thinkingClipMinMs }),
        thinkingClip,
        device: settings.device,
        compactionDeadlineMs: settings.compactionDeadlineMs + 1000,
        ...(settings.wordBudget === undefined ? {} : { wordBudget: settings.wordBudget }),
      }) satisfies LoopRunOptions,
  )

/** The tokenizer and the compactor every session shares. */
const sharedServices = (
  settings: RunSettings,
  files: ModelFiles,
  extra: { readonly compactor?: Layer.Layer<Compactor, unknown> },
) => Layer.mergeAll(TextTokenizer.layer(files.tokenizer), extra.compactor ?? compactorLayer(settings))

/**
 * The real conversation loop from the CLI's settings. Every session builds its own Mimi and LM with the
 * stack's `modelLayer(settings, files)` (device, quantization, context, threads, graph capture, sampling:
 * whatever `personaplex run` would build) when it starts, and releases them when it ends; the tokenizer
 * and the compactor (`compactorLayer(settings)`) are shared.
 */
export const settingsLoopEngine = (
  settings: RunSettings,
  files: ModelFiles,
  extra: { readonly compactor?: Layer.Layer<Compactor, unknown> } = {},
) =>
  Layer.unwrap(
    Effect.map(loopRunOptions(settings), (run) =>
      LoopEngine.layerSelfContained({ ...run, models: modelLayer(settings, files) }),
    ),
  ).pipe(Layer.provide(sharedServices(settings, files, extra)))

/** `--max-sessions N` beside the settings' `runtime.engine: two-graph`: the batch is the fused step's. */
export const batchNeedsFused = (maxSessions: number) =>
  `--max-sessions ${maxSessions} batches the conversations on the fused LM step: drop runtime.engine: two-graph (or use --max-sessions 1)`

/**
 * The real loop from the CLI's settings with `maxSessions` conversations on ONE LM step: the settings'
 * LM as an `LmBatch` of that many rows (stack's `lmBatchLayer`), each session a row of it with its own
 * Mimi (stack's `codecLayer`), and the server's frame clock driving them all. On the CPU the LM and each
 * codec run on workers of their own; on WebGPU the LM and every codec share ONE worker (a second WebGPU
 * worker beside the LM's failed its runs on lavapipe: "Command encoding already finished"), unless
 * `runtime.codec_device: cpu` gives each codec a CPU worker of its own. The tokenizer and the
 * compactor are shared.
 */
export const batchedLoopEngine = (
  settings: RunSettings,
  files: ModelFiles,
  maxSessions: number,
  extra: { readonly compactor?: Layer.Layer<Compactor, unknown> } = {},
) =>
  Layer.unwrap(
    Effect.gen(function* () {
      if (settings.engine === "two-graph")
        return yield* new EngineSettingsError({ problems: [batchNeedsFused(maxSessions)] })
      const run = yield* loopRunOptions(settings)
      if (settings.device === "cpu")
        return LoopEngine.layerBatched({
          ...run,
          codec: codecLayer(settings, files).pipe(Layer.provide(runtimeLayer(settings))),
        }).pipe(
          Layer.provide(
            lmBatchLayer(settings, files, maxSessions).pipe(Layer.provide(runtimeLayer(settings))),
          ),
        )
      const gpu = Layer.succeedContext(yield* Layer.build(runtimeLayer(settings)))
      const cpuCodec = codecRuntimeLayer(settings)
      return LoopEngine.layerBatched({
        ...run,
        codec: codecLayer(settings, files).pipe(Layer.provide(cpuCodec ?? gpu)),
      }).pipe(Layer.provide(lmBatchLayer(settings, files, maxSessions).pipe(Layer.provide(gpu))))
    }),
  ).pipe(Layer.provide(sharedServices(settings, files, extra)))

/** The config's `model` section naming these files (configs included). */
export const filesConfig = (paths: ModelPaths): NonNullable<RunConfig["model"]> => ({
  mimi: paths.mimi,
  lm: paths.lm,
  tokenizer: paths.tokenizer,
  ...(paths.mimiConfig === undefined ? {} : { mimi_config: paths.mimiConfig }),
  ...(paths.lmConfig === undefined ? {} : { lm_config: paths.lmConfig }),
})

/** A run config whose models are the smoke models (everything else from `base`). */
export const smokeConfig = (smoke: SmokeModels, base: RunConfig = {}): RunConfig => ({
  ...base,
  model: filesConfig(smoke),
})

const optionsConfig = (options: ModelEngineOptions): RunConfig => ({
  conversation: {
    window_frames: options.windowFrames,
    ...(options.thinkingClip === undefined ? {} : { thinking_clip: options.thinkingClip }),
  },
})

/** The real loop on model files, on the CPU (the CLI's settings for them: `model.mimi`, `model.lm`, ...). */
export const modelLoopEngine = (paths: ModelPaths, options: ModelEngineOptions) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const settings = yield* settingsFromConfig({ ...optionsConfig(options), model: filesConfig(paths) })
      const files = yield* resolveModelFiles(settings.models)
      return settingsLoopEngine(settings, files, options.compactor ? { compactor: options.compactor } : {})
    }),
  )

export const defaultSmokeCache = (): string => path.join(os.tmpdir(), "personaplex-smoke-models")

/**
 * The real loop on the smoke models of `personaplex demo` (random weights of the tiny Mimi and LM
 * architectures, generated once into `cacheDir`): every stage runs, the audio and text are noise.
 */
export const smokeLoopEngine = (options: ModelEngineOptions & { readonly cacheDir?: string }) =>
  Layer.unwrap(
    Effect.map(ensureSmokeModels(options.cacheDir ?? defaultSmokeCache()), (smoke) =>
      modelLoopEngine(smoke, options),
    ),
  )
