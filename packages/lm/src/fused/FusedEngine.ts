import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ExecutionProvider, OrtSession } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import type { EngineStepInput, EngineStepOutput, LmEngineShape } from "../engine/LmEngine.ts"
import { LmConfigError, type LmError, LmRuntimeError, LmWeightsError } from "../errors.ts"
import { checkpointStamp } from "../graph/prepare.ts"
import type { Quantization } from "../graph/quantize.ts"
import { LmConfig } from "../LmConfig.ts"
import type { MoshiLmOptions, Sampler } from "../MoshiLm.ts"
import { LmMetrics, timed } from "../metrics.ts"
import { convertWeights } from "./convert/convert.ts"
import type { GpuPrecision, WeightLayout } from "./convert/layout.ts"
import { type GpuLm, type GpuLmOptions, type GpuLmSampling, type GpuLmStep, openGpuLm } from "./FusedStep.ts"
import type { KvCacheType } from "./stepGraph.ts"
import { embeddingRow } from "./stepGraph.ts"

/** The checkpoint and shape options as `MoshiLm`'s (`none` computes with the checkpoint's values in float32), plus the fused form's own. */
export interface FusedEngineOptions
  extends Pick<
    MoshiLmOptions,
    "checkpoint" | "config" | "context" | "quantization" | "depformerSteps" | "upstreamRingQuirk"
  > {
  /**
   * Keep the converted weights under this folder, keyed by the checkpoint file(s) (path, size, mtime)
   * and the options that shape them: a later engine on the same weights starts without converting.
   * Default: a temp folder removed when the scope closes.
   */
  readonly cacheDir?: string
  /** The provider the step runs on (default: the CPU). */
  readonly provider?: ExecutionProvider
  /** Output text and audio logits every step. */
  readonly outputLogits?: boolean
  /**
   * int8/int4: quantize the activations of each linear to int8 as well (`MatMulNBits` accuracy
   * level 4: integer dot products on WebGPU). Default false.
   */
  readonly int8Activations?: boolean
  /** WebGPU: replay each step from a captured graph (default true on WebGPU). */
  readonly graphCapture?: boolean
  /** Element type of the KV cache (default: float16 on a GPU, float32 on the CPU). */
  readonly kvCache?: KvCacheType
  /**
   * Slots of the KV cache, at least `context` (default: `context` from 1024 frames on, twice it below). Equal to
   * `context`, the cache holds that many frames after a reset (`capacity`), and each step's attention
   * is one GroupQueryAttention. Larger, the attention slides over the last `context` frames (one
   * fewer with `upstreamRingQuirk`) for windows of any length, the cache moving its last frames to
   * the front each time it fills.
   */
  readonly maxFrames?: number
  /** Threads converting the weights (default: the cores less one, at most 8). */
  readonly convertWorkers?: number
  /** Conversion progress: bytes of the checkpoint converted so far, and in all. */
  readonly onConvertProgress?: (doneBytes: number, totalBytes: number) => void
}

/** Bump when the converted file's layout or numerics change: older cache entries are then ignored. */
const CONVERTED_FORMAT = "fused-weights-1"
const FIXED_CACHE_FROM = 1024

const PRECISION: Record<Quantization, GpuPrecision> = {
  none: "float32",
  float16: "float16",
  int8: "int8",
  int4: "int4",
}

/** The forced token wins any Gumbel-max: its score is finite, every other one is −1e30 or less. */
const FORCED = 1e30

/**
 * A head's noise for the fused graph: the sampler's Gumbel noise times its temperature, or, for a
 * forced token, +1e30 on it and −1e30 elsewhere (the graph's top-k keeps it either way: outside the
 * top k its score is −1e30 + 1e30 = 0, above every other).
 */
const headNoise = (sampler: Sampler, into: Float32Array, forced: number | undefined) => {
  if (forced !== undefined) {
    into.fill(-FORCED)
    into[forced] = FORCED
    return
  }
  for (let i = 0; i < into.length; i++) into[i] = sampler.temperature * sampler.noise[i]!
}

const converted = (options: {
  readonly checkpoint: string
  readonly config: LmConfig
  readonly precision: GpuPrecision
  readonly depformerSteps: 8 | 16
  readonly dir: string
  readonly workers: number
  readonly onProgress?: (done: number, total: number) => void
}) =>
  Effect.tryPromise({
    try: async () => {
      const marker = path.join(options.dir, "complete.json")
      if (fs.existsSync(marker)) {
        const { weightsFile } = JSON.parse(fs.readFileSync(marker, "utf8")) as { weightsFile: string }
        const layout = JSON.parse(fs.readFileSync(`${weightsFile}.layout.json`, "utf8")) as WeightLayout
        return { layout, weightsFile, source: "cache" as const }
      }
      fs.rmSync(options.dir, { recursive: true, force: true })
      const result = await convertWeights({
        checkpoint: options.checkpoint,
        config: options.config,
        precision: options.precision,
        depformerSteps: options.depformerSteps,
        outDir: options.dir,
        workers: options.workers,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      })
      fs.writeFileSync(
        marker,
        JSON.stringify({ weightsFile: result.weightsFile, checkpoint: options.checkpoint, ms: result.ms }),
      )
      return { layout: result.layout, weightsFile: result.weightsFile, source: "built" as const }
    },
    catch: (error) =>
      new LmWeightsError({
        checkpoint: options.checkpoint,
        tensor: "(conversion)",
        reason: (error as Error).message ?? String(error),
      }),
  })

/** The summed input embeddings `[rows, dim]` of token rows (plus `extra`), read from the converted tables. */
const embeddingSums = (
  config: LmConfig,
  layout: WeightLayout,
  weightsFile: string,
  rows: ReadonlyArray<Int32Array>,
  extra: Float32Array | undefined,
): Float32Array => {
  const { dim } = config
  const group = layout.groups.emb_all!
  const sums = extra ? extra.slice(0, rows.length * dim) : new Float32Array(rows.length * dim)
  const row = new Float32Array(dim)
  const bytes = new Uint8Array(row.buffer)
  const fd = fs.openSync(weightsFile, "r")
  try {
    for (const [t, tokens] of rows.entries())
      for (let k = 0; k < 17; k++) {
        if (tokens[k]! < 0) continue
        fs.readSync(fd, bytes, 0, bytes.length, group.offset + embeddingRow(config, k, tokens[k]!) * dim * 4)
        for (let i = 0; i < dim; i++) sums[t * dim + i]! += row[i]!
      }
  } finally {
    fs.closeSync(fd)
  }
  return sums
}

export const runtimeError = (stage: LmRuntimeError["stage"]) => (error: { readonly message: string }) =>
  new LmRuntimeError({ stage, reason: error.message })

/** What the fused step's sessions are made from: checked options and the converted (or cached) weights. */
export interface FusedPlan {
  readonly config: LmConfig
  readonly context: number
  readonly depformerSteps: 8 | 16
  readonly quantization: Quantization
  readonly provider: ExecutionProvider
  readonly maxFrames: number
  readonly graphCapture: boolean
  readonly weights: {
    readonly layout: WeightLayout
    readonly weightsFile: string
    readonly source: "built" | "cache"
  }
  /** The step's options, but for its frames (`context`) and rows. */
  readonly step: Omit<GpuLmOptions, "context">
}

/** The options checked, the weights converted or found in the cache: what every fused form opens. */
export const planFused = (options: FusedEngineOptions): Effect.Effect<FusedPlan, LmError, Scope.Scope> =>
  Effect.gen(function* () {
    const config = options.config ?? LmConfig.personaplex
    const context = options.context ?? config.context
    const depformerSteps = options.depformerSteps ?? 8
    const quantization = options.quantization ?? "none"
    const provider = options.provider ?? "cpu"
    if (!Number.isInteger(context) || context < 2)
      return yield* new LmConfigError({
        field: "context",
        reason: `expected an integer ≥ 2, found ${context}`,
      })
    if (depformerSteps !== 8 && depformerSteps !== 16)
      return yield* new LmConfigError({
        field: "depformerSteps",
        reason: `expected 8 or 16, found ${depformerSteps}`,
      })
    if (PRECISION[quantization] === undefined)
      return yield* new LmConfigError({
        field: "quantization",
        reason: `expected "none", "float16", "int8" or "int4", found ${quantization}`,
      })
    // Short contexts slide through twice their length (a cheap move every `context` frames); long ones
    // keep the fixed cache, whose attention is one GroupQueryAttention, for `context` frames a window.
    const maxFrames = options.maxFrames ?? (context >= FIXED_CACHE_FROM ? context : 2 * context)
    if (!Number.isInteger(maxFrames) || maxFrames < context)
      return yield* new LmConfigError({
        field: "maxFrames",
        reason: `expected an integer ≥ the context (${context}), found ${maxFrames}`,
      })
    const precision = PRECISION[quantization]
    const key = yield* Effect.try({
      try: () =>
        createHash("sha256")
          .update(
            JSON.stringify({
              format: CONVERTED_FORMAT,
              config,
              precision,
              depformerSteps,
              files: checkpointStamp(options.checkpoint),
            }),
          )
          .digest("hex")
          .slice(0, 20),
      catch: (error) =>
        new LmWeightsError({
          checkpoint: options.checkpoint,
          tensor: "(file)",
          reason: (error as Error).message,
        }),
    })
    let dir: string
    if (options.cacheDir) dir = path.join(options.cacheDir, `fused-${precision}-${key}`)
    else {
      const temp = fs.mkdtempSync(path.join(os.tmpdir(), "personaplex-fused-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(temp, { recursive: true, force: true })))
      dir = path.join(temp, "weights")
    }
    const weights = yield* converted({
      checkpoint: options.checkpoint,
      config,
      precision,
      depformerSteps,
      dir,
      workers: options.convertWorkers ?? Math.min(8, Math.max(0, os.cpus().length - 1)),
      ...(options.onConvertProgress ? { onProgress: options.onConvertProgress } : {}),
    })
    const window = options.upstreamRingQuirk ? context - 1 : context
    const graphCapture = options.graphCapture ?? provider === "webgpu"
    return {
      config,
      context,
      depformerSteps,
      quantization,
      provider,
      maxFrames,
      graphCapture,
      weights,
      step: {
        config,
        layout: weights.layout,
        weightsFile: weights.weightsFile,
        provider,
        attention: ["gqa"],
        kvCache: options.kvCache ?? (provider === "cpu" ? "float32" : "float16"),
        graphCapture,
        outputLogits: options.outputLogits ?? false,
        ...(options.int8Activations ? { int8Activations: true } : {}),
        ...(window < maxFrames ? { window } : {}),
        // Upstream's depformer ring holds 16 steps and, wrapped at step 15, sees one fewer (§3.5).
        ...(options.upstreamRingQuirk && depformerSteps === 16 ? { depformerWindow: 15 } : {}),
      },
    } satisfies FusedPlan
  })

/**
 * A frame's sampler inputs for the fused graph (`GpuLmSampling`): each head's noise times its
 * temperature, forced tokens made to win; a typed error for noise of the wrong size.
 */
export const fusedSampling = (
  config: LmConfig,
  depformerSteps: number,
  input: EngineStepInput,
): Effect.Effect<GpuLmSampling, LmRuntimeError> => {
  if (
    input.text.noise.length !== config.textCard ||
    input.audio.noise.length !== depformerSteps * config.card
  )
    return Effect.fail(
      new LmRuntimeError({
        stage: "step",
        reason: `sampling noise has ${input.text.noise.length} and ${input.audio.noise.length} values, expected ${config.textCard} and ${depformerSteps * config.card}`,
      }),
    )
  const textNoise = new Float32Array(config.textCard)
  headNoise(input.text, textNoise, input.textForced)
  const audioNoise = new Float32Array(depformerSteps * config.card)
  for (let k = 0; k < depformerSteps; k++) {
    const row = audioNoise.subarray(k * config.card, (k + 1) * config.card)
    const sampler = {
      ...input.audio,
      noise: input.audio.noise.subarray(k * config.card, (k + 1) * config.card),
    }
    headNoise(sampler, row, input.forcedMask[k] ? input.forced[k]! : undefined)
  }
  return Effect.succeed({
    textNoise,
    audioNoise,
    textTopK: input.text.topK,
    audioTopK: input.audio.topK,
  })
}

/** The engine's output of a fused step: the forced text token where forced. */
export const fusedOutput = (config: LmConfig, input: EngineStepInput, out: GpuLmStep): EngineStepOutput => ({
  textToken: input.textForced ?? out.textToken,
  audioTokens: out.audioTokens,
  ...(out.textLogits ? { textLogits: out.textLogits.subarray(0, config.textCard) } : {}),
  ...(out.audioLogits ? { audioLogits: out.audioLogits } : {}),
})

/** The summed input embeddings `[rows, dim]` a prefill with `embeddings` returns (a voice-prompt cache). */
export const prefillEmbeddings = (
  plan: FusedPlan,
  rows: ReadonlyArray<Int32Array>,
  extra: Float32Array | undefined,
): Effect.Effect<Float32Array, LmRuntimeError> =>
  Effect.try({
    try: () => embeddingSums(plan.config, plan.weights.layout, plan.weights.weightsFile, rows, extra),
    catch: (error) => new LmRuntimeError({ stage: "prefill", reason: (error as Error).message }),
  })

/**
 * The fused form behind the engine contract: one graph a frame (temporal transformer, depformer and
 * sampling, `buildStepGraph`) over weights converted from the checkpoint (cached by `cacheDir`), the
 * KV cache resident on the device and written in place (`gqa`), attention over the last `context`
 * frames (`upstreamRingQuirk`: one fewer), prompts prefilled in one run, steps replayed from a
 * captured graph on WebGPU. Snapshots are positions: restoring one costs nothing.
 */
export const openFusedEngine = (
  options: FusedEngineOptions,
): Effect.Effect<LmEngineShape, LmError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const plan = yield* planFused(options)
    const { config, context, depformerSteps, quantization } = plan
    const lm: GpuLm = yield* openGpuLm({ ...plan.step, context: plan.maxFrames }).pipe(
      Effect.mapError(runtimeError("open")),
    )

    const step = (input: EngineStepInput) =>
      Effect.gen(function* () {
        const sampling = yield* fusedSampling(config, depformerSteps, input)
        const out = yield* lm
          .step(input.tokens, input.extraEmbedding, sampling)
          .pipe(Effect.mapError(runtimeError("step")), timed(LmMetrics.temporalMs))
        return fusedOutput(config, input, out)
      }).pipe(Effect.uninterruptible)

    if (plan.graphCapture) {
      // The captured step records its graph on its first runs: do them now, not in the first frames.
      const row = new Int32Array(17).fill(-1)
      for (let i = 0; i < 2; i++) yield* lm.step(row).pipe(Effect.mapError(runtimeError("open")))
      yield* lm.reset.pipe(Effect.mapError(runtimeError("open")))
    }
    let snapshots = 0
    return {
      form: "fused",
      provider: lm.opened.provider,
      config,
      context,
      depformerSteps,
      quantization,
      graphSource: plan.weights.source,
      capacity: lm.capacity,
      cheapSnapshots: true,
      position: Effect.sync(() => lm.position()),
      step,
      prefill: (rows, prefillOptions = {}) =>
        Effect.gen(function* () {
          if (rows.length === 0) return prefillOptions.embeddings ? new Float32Array(0) : undefined
          yield* lm.prefill(rows, prefillOptions.extra).pipe(Effect.mapError(runtimeError("prefill")))
          if (!prefillOptions.embeddings) return undefined
          return yield* prefillEmbeddings(plan, rows, prefillOptions.extra)
        }).pipe(Effect.uninterruptible),
      reset: lm.reset.pipe(Effect.mapError(runtimeError("state"))),
      snapshot: Effect.gen(function* () {
        const key = `s${snapshots++}`
        yield* lm.snapshot(key).pipe(Effect.mapError(runtimeError("state")))
        return { form: "fused" as const, position: lm.position(), key }
      }),
      restore: (state) =>
        state.form !== "fused" || state.key === undefined
          ? Effect.fail(new LmConfigError({ field: "state", reason: `a ${state.form} engine's snapshot` }))
          : lm.restore(state.key).pipe(Effect.mapError(runtimeError("state"))),
    } satisfies LmEngineShape
  })
