import * as fs from "node:fs"
import * as path from "node:path"
import {
  type ExecutionProvider,
  OrtSession,
  type OrtSessionError,
  type OrtTensor,
  type Session,
  type StateBinding,
} from "@personaplex/runtime"
import { Data, Effect, type Scope } from "effect"
import type { LmConfig } from "../LmConfig.ts"
import type { WeightLayout } from "./convert/layout.ts"
import {
  buildShiftGraph,
  buildStepGraph,
  embeddingRow,
  type GpuAttention,
  type GpuSampling,
  type KvCacheType,
  ropeFrequencies,
  StepIo,
} from "./stepGraph.ts"

export interface GpuLmOptions {
  readonly config: LmConfig
  readonly context: number
  readonly layout: WeightLayout
  readonly weightsFile: string
  readonly provider: ExecutionProvider
  /** Sampling variants to try, in order (default: top-k, then whole-vocabulary Gumbel-max). */
  readonly sampling?: ReadonlyArray<GpuSampling>
  /** Output the text and audio logits of every run's last row. */
  readonly outputLogits?: boolean
  /** int8/int4 weights: int8 activations too (`StepGraphOptions.int8Activations`). */
  readonly int8Activations?: boolean
  /** `gqa`: each row sees its last `window` frames (`StepGraphOptions.window`); default the whole cache. */
  readonly window?: number
  /** `gqa`: the depformer steps' window (`StepGraphOptions.depformerWindow`). */
  readonly depformerWindow?: number
  /** Allow onnxruntime to run nodes the GPU provider lacks on the CPU, as a last resort (default true). */
  readonly allowCpuFallback?: boolean
  /** ONNX opsets to try, in order (default 18, then 21). */
  readonly opsets?: ReadonlyArray<number>
  /** Attention forms to try, in order (default `mha`, then `matmul`). */
  readonly attention?: ReadonlyArray<GpuAttention>
  /** Element type of the `gqa` KV cache (default float16). */
  readonly kvCache?: KvCacheType
  /** `fusedOps` settings of the step graph to try, in order (default true, then false). */
  readonly fusedOps?: ReadonlyArray<boolean>
  /** Record onnxruntime's profile of the step session (`SessionSpec.profileFilePrefix`). */
  readonly profileFilePrefix?: string
  /**
   * WebGPU with the `gqa` cache: capture a step's GPU work once and replay it for every later step
   * (`WebGpuOptions.graphCapture`); prefill runs live. Default false.
   */
  readonly graphCapture?: boolean
  /**
   * Exchange codes with Mimi sessions of the same `OrtSession` worker on the device (`SessionSpec.shared`):
   * `stepShared` embeds the user codes in buffer `user` of pool `pool` (a Mimi encoder's output), and
   * every run leaves the agent's codes in buffer `agent` (a Mimi decoder's input).
   */
  readonly sharedCodes?: { readonly pool: string; readonly user: string; readonly agent: string }
}

export interface GpuLmStep {
  readonly textToken: number
  readonly audioTokens: Int32Array
  readonly textLogits?: Float32Array
  /** `[steps, card]` */
  readonly audioLogits?: Float32Array
}

/**
 * A run's sampling inputs: Gumbel noise already multiplied by the temperature (the graph adds it to the
 * logits: argmax(l + T·g) = argmax(l/T + g)) and each head's top-k. Absent: zero noise, top-1 (greedy).
 */
export interface GpuLmSampling {
  /** `[textCard]` */
  readonly textNoise: Float32Array
  /** `[steps, card]` */
  readonly audioNoise: Float32Array
  readonly textTopK: number
  readonly audioTopK: number
}

/** How the session was created: which variant, and why the ones before it failed. */
export interface GpuLmOpened {
  /** The provider onnxruntime opened the step on. */
  readonly provider: ExecutionProvider
  readonly sampling: GpuSampling
  readonly opset: number
  readonly attention: GpuAttention
  /** The KV cache's element type. */
  readonly kvCache: KvCacheType
  readonly fusedOps: boolean
  readonly cpuFallbackAllowed: boolean
  /** Steps replay a captured graph (`GpuLmOptions.graphCapture`). */
  readonly graphCapture: boolean
  readonly graphMs: number
  readonly sessionMs: number
  readonly failedAttempts: ReadonlyArray<string>
}

export interface GpuLm {
  readonly opened: GpuLmOpened
  readonly position: () => number
  /** Frames the KV cache holds after a reset (`gqa`: `context`, then `GpuLmContextFull`); unbounded for the rings. */
  readonly capacity: number | undefined
  /** One frame: 17 tokens (−1 embeds to zero) → text token and the depformer's audio tokens. */
  step(
    tokens: Int32Array,
    extra?: Float32Array,
    sampling?: GpuLmSampling,
  ): Effect.Effect<GpuLmStep, GpuLmError>
  /**
   * One frame whose user codes are those in the shared buffer (`GpuLmOptions.sharedCodes`): 9 tokens,
   * the text and the agent's; without shared codes, a `GpuLmNoSharedCodes` error.
   */
  stepShared(tokens: Int32Array, sampling?: GpuLmSampling): Effect.Effect<GpuLmStep, GpuLmError>
  /**
   * Known rows (17 tokens each, optional `[rows, dim]` extra embeddings) in as few runs as exact:
   * one run for the linear cache and while a ring does not wrap, single steps beyond.
   */
  prefill(rows: ReadonlyArray<Int32Array>, extra?: Float32Array): Effect.Effect<void, GpuLmError>
  readonly reset: Effect.Effect<void, GpuLmError>
  /** Remember the state at this position (the rings: by reference; the linear cache: the position). */
  snapshot(key: string): Effect.Effect<void, GpuLmError>
  /** Continue from a snapshot. With the linear cache, snapshots past the restored position are forgotten (their frames get overwritten). */
  restore(key: string): Effect.Effect<void, GpuLmError>
}

/** The linear (`gqa`) KV cache has no room for the rows of a run: reset or restore first. */
export class GpuLmContextFull extends Data.TaggedError("GpuLmContextFull")<{
  readonly position: number
  readonly rows: number
  readonly capacity: number
}> {
  override get message() {
    return `the KV cache holds ${this.capacity} frames: ${this.rows} more at position ${this.position} do not fit (reset or restore a snapshot first)`
  }
}

/** `restore` named a snapshot never taken, or one overwritten since. */
export class GpuLmNoSnapshot extends Data.TaggedError("GpuLmNoSnapshot")<{ readonly key: string }> {
  override get message() {
    return `no snapshot "${this.key}" (never taken, or overwritten by frames written after an earlier restore)`
  }
}

/** `stepShared` on an LM opened without `sharedCodes`. */
export class GpuLmNoSharedCodes extends Data.TaggedError("GpuLmNoSharedCodes") {
  override get message() {
    return "stepShared needs GpuLmOptions.sharedCodes (the buffers the user codes come from)"
  }
}

export type GpuLmError = OrtSessionError | GpuLmContextFull | GpuLmNoSnapshot | GpuLmNoSharedCodes

const f32 = (data: Float32Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "float32", dims, data })
const i64 = (data: BigInt64Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "int64", dims, data })
const i32 = (data: Int32Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "int32", dims, data })

/** The linear cache's lengths for a run of `T` rows starting at `position` (`gqa`). */
export const cacheLengthInputs = (position: number, T: number): Record<string, OrtTensor> => ({
  [StepIo.seqlensK]: i32(Int32Array.of(position + T - 1), [1]),
  [StepIo.totalLength]: i32(Int32Array.of(position + T), [1]),
})

/** The RoPE inputs of `T` rows from `position`: each row's angles at its absolute position, in f32 as upstream. */
const ropeInputs = (position: number, T: number, freqs: Float32Array): Record<string, OrtTensor> => {
  const half = freqs.length
  const cos = new Float32Array(T * half)
  const sin = new Float32Array(T * half)
  for (let t = 0; t < T; t++)
    for (let i = 0; i < half; i++) {
      const angle = Math.fround((position + t) * freqs[i]!)
      cos[t * half + i] = Math.cos(angle)
      sin[t * half + i] = Math.sin(angle)
    }
  return {
    [StepIo.cos]: f32(cos, [T, half]),
    [StepIo.sin]: f32(sin, [T, half]),
    [StepIo.ropeRows]: i64(
      BigInt64Array.from({ length: T }, (_, t) => BigInt(t)),
      [1, T],
    ),
  }
}

/**
 * The sliding cache's inputs (`StepGraphOptions.window`) for a run of `T` rows from `position`, slot
 * 0 holding frame `offset`: the rows' RoPE angles, and each row's bias over the `capacity` slots,
 * open on the frames among its last `window`.
 */
export const windowInputs = (
  position: number,
  T: number,
  window: number,
  capacity: number,
  offset: number,
  freqs: Float32Array,
): Record<string, OrtTensor> => {
  const bias = new Float32Array(T * capacity).fill(-1e4)
  for (let t = 0; t < T; t++) {
    const q = position + t
    bias.fill(0, t * capacity + Math.max(0, q - window + 1 - offset), t * capacity + q - offset + 1)
  }
  return { ...ropeInputs(position, T, freqs), [StepIo.windowBias]: f32(bias, [T, capacity]) }
}

/** Host-side inputs of a run of `T` rows starting at `position` over the rings (see `StepIo`). */
export const positionInputs = (
  config: LmConfig,
  context: number,
  position: number,
  T: number,
  freqs: Float32Array,
): Record<string, OrtTensor> => {
  const heads = config.numHeads
  // After this run's writes, slot s holds the latest position ≡ s (mod context) below position + T.
  const end = position + T - 1
  const bias = new Float32Array(T * context).fill(-1e30)
  for (let s = 0; s < context; s++) {
    const held = end - ((((end - s) % context) + context) % context)
    if (held < 0) continue
    for (let t = 0; t < T; t++) {
      const q = position + t
      if (held <= q && held > q - context) bias[t * context + s] = 0
    }
  }
  const write = new BigInt64Array(heads * T * 2)
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < T; t++) {
      write[(h * T + t) * 2] = BigInt(h)
      write[(h * T + t) * 2 + 1] = BigInt((position + t) % context)
    }
  return {
    ...ropeInputs(position, T, freqs),
    [StepIo.bias]: f32(bias, [T, context]),
    [StepIo.writeIndex]: i64(write, [heads, T, 2]),
  }
}

/** Rows of the `emb_all` table group for 17-token rows, and the keep mask. */
export const tokenInputs = (config: LmConfig, rows: ReadonlyArray<Int32Array>): Record<string, OrtTensor> => {
  const T = rows.length
  const ids = new BigInt64Array(T * 17)
  const keep = new Float32Array(T * 17)
  for (let t = 0; t < T; t++) {
    const row = rows[t]!
    if (row.length !== 17) throw new Error(`a row has ${row.length} tokens, 17 expected`)
    for (let k = 0; k < 17; k++) {
      const token = row[k]!
      if (token < 0) continue
      ids[t * 17 + k] = BigInt(embeddingRow(config, k, token))
      keep[t * 17 + k] = 1
    }
  }
  return { [StepIo.ids]: i64(ids, [1, T, 17]), [StepIo.keep]: f32(keep, [1, T, 17, 1]) }
}

/**
 * The sliding cache (`gqa` with a `window` below the cache's frames): each row sees its last `window`
 * frames, and `move` (a session over the step's resident buffers) brings the last `window − 1` frames
 * to the front when the cache fills.
 */
export interface SlidingCache {
  readonly window: number
  readonly move: Session
}

/** One way of building and opening the sessions, tried in order until one opens. */
interface Attempt {
  readonly attention: GpuAttention
  readonly fusedOps: boolean
  readonly sampling: GpuSampling
  readonly opset: number
  readonly fallback: boolean
}

let nextPool = 1

/**
 * The LM on onnxruntime sessions (`buildStepGraph`). With the rings (`mha`, `matmul`) the caches
 * are session state kept on the device between runs (`stateOnDevice`), snapshots by reference.
 * With `gqa` they are resident buffers written in place (`SessionSpec.resident`); snapshots are
 * positions. Creation tries the variants with the CPU fallback disabled, then (if allowed) with it
 * enabled, and reports which won.
 */
export const openGpuLm = (
  options: GpuLmOptions,
): Effect.Effect<GpuLm, GpuLmError, OrtSession | Scope.Scope> =>
  Effect.map(openStepSessions(options, 1), ({ session, opened, sliding }) =>
    makeGpuLm(options, session, opened, sliding),
  )

/** The step session of `batch` rows (and the sliding cache, if any), by the first variant that opens. */
export const openStepSessions = (
  options: GpuLmOptions,
  batch: number,
): Effect.Effect<
  {
    readonly session: Session
    readonly opened: GpuLmOpened
    readonly sliding: SlidingCache | undefined
    /** The resident pool holding the caches (`SessionSpec.resident`). */
    readonly pool: string
  },
  GpuLmError,
  OrtSession | Scope.Scope
> =>
  Effect.gen(function* () {
    const { config, context, layout } = options
    const ort = yield* OrtSession
    const heads = config.numHeads
    const hd = config.dim / heads
    const onCpu = options.provider === "cpu"
    const samplings = options.sampling ?? ["topk", "argmax"]
    const opsets = options.opsets ?? [18, 21]
    const forms = options.attention ?? ["mha", "matmul"]
    const fusions = options.fusedOps ?? [true, false]
    const attempts: Attempt[] = forms.flatMap((attention) =>
      fusions.flatMap((fusedOps) =>
        samplings.flatMap((sampling) =>
          opsets.map((opset) => ({ attention, fusedOps, sampling, opset, fallback: onCpu })),
        ),
      ),
    )
    if (!onCpu && (options.allowCpuFallback ?? true)) attempts.push({ ...attempts[0]!, fallback: true })

    const ringState: StateBinding[] = Array.from({ length: config.numLayers }, (_, l) => [
      {
        input: StepIo.keys(l),
        output: StepIo.keysOut(l),
        type: "float16" as const,
        dims: [heads, context, hd],
      },
      {
        input: StepIo.values(l),
        output: StepIo.valuesOut(l),
        type: "float16" as const,
        dims: [heads, context, hd],
      },
    ]).flat()
    const pool = `gpu-lm-${nextPool++}`
    let graphMs = 0
    const kvCache = options.kvCache ?? "float16"
    const depformerHeads = config.depformerNumHeads
    const depformerCache = {
      type: "float32" as const,
      dims: [batch, depformerHeads, layout.depformerSteps, config.depformerDim / depformerHeads],
    }
    // Every depformer step of a layer writes the layer's one buffer in place (`StepIo.depformerKeys`).
    const depformerBindings = Array.from({ length: config.depformerNumLayers }, (_, l) =>
      Array.from({ length: layout.depformerSteps }, (_, k) => [
        { input: StepIo.depformerKeys(l), output: StepIo.depformerKeysOut(l, k), ...depformerCache },
        { input: StepIo.depformerValues(l), output: StepIo.depformerValuesOut(l, k), ...depformerCache },
      ]),
    ).flat(2)
    const resident = {
      pool,
      bindings: [
        ...ringState.map((b) => ({ ...b, type: kvCache, dims: [batch, heads, context, hd] })),
        ...depformerBindings,
      ],
    }

    const codes = { type: "int32" as const, dims: [config.nQ / 2] }
    const shared = options.sharedCodes && [
      { name: StepIo.userCodes, pool: options.sharedCodes.pool, buffer: options.sharedCodes.user, ...codes },
      {
        name: StepIo.agentCodes,
        pool: options.sharedCodes.pool,
        buffer: options.sharedCodes.agent,
        ...codes,
      },
    ]

    /** Graph capture needs the linear cache (fixed buffers) and no node on the CPU. */
    const captures = (attempt: Attempt) =>
      options.graphCapture === true &&
      options.provider === "webgpu" &&
      attempt.attention === "gqa" &&
      !attempt.fallback

    /** Build the graph of `attempt`, open it with its cache (rings as state, or resident), remove the model file. */
    const openSession = (attempt: Attempt) =>
      Effect.gen(function* () {
        const capture = captures(attempt)
        const modelPath = path.join(
          path.dirname(options.weightsFile),
          `step-${layout.precision}-ctx${context}${batch > 1 ? `-b${batch}` : ""}-${attempt.attention}${attempt.attention === "gqa" ? `-${kvCache}` : ""}${capture ? "-capture" : ""}${attempt.fusedOps ? "-fused" : ""}-${attempt.sampling}${options.int8Activations ? "-a8" : ""}-opset${attempt.opset}.onnx`,
        )
        const t0 = performance.now()
        yield* Effect.sync(() =>
          buildStepGraph(config, {
            context,
            sampling: attempt.sampling,
            attention: attempt.attention,
            kvCache,
            fusedOps: attempt.fusedOps,
            opset: attempt.opset,
            layout,
            weightsFile: options.weightsFile,
            ...(options.outputLogits ? { outputLogits: true } : {}),
            ...(options.int8Activations ? { int8Activations: true } : {}),
            ...(options.window !== undefined ? { window: options.window } : {}),
            ...(options.depformerWindow !== undefined ? { depformerWindow: options.depformerWindow } : {}),
            ...(options.sharedCodes ? { codesOnDevice: true } : {}),
            // GroupQueryAttention takes runs of several rows in a batch of one only.
            ...(batch > 1 ? { batch, scatterWrites: true } : {}),
          }).save(modelPath),
        )
        graphMs += performance.now() - t0
        return yield* ort
          .open({
            model: modelPath,
            executionProviders: [options.provider],
            disablePrepacking: true,
            disableCpuFallback: !attempt.fallback,
            ...(options.profileFilePrefix ? { profileFilePrefix: options.profileFilePrefix } : {}),
            ...(attempt.attention === "gqa" ? { resident } : { state: ringState, stateOnDevice: true }),
            ...(capture ? { webGpu: { graphCapture: true } } : {}),
            ...(shared ? { shared } : {}),
          })
          .pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(modelPath, { force: true }))))
      })

    const failed: string[] = []
    for (const attempt of attempts) {
      const t0 = performance.now()
      graphMs = 0
      const result = yield* Effect.result(openSession(attempt))
      if (result._tag === "Success") {
        const opened: GpuLmOpened = {
          provider: result.success.provider,
          sampling: attempt.sampling,
          opset: attempt.opset,
          attention: attempt.attention,
          kvCache: attempt.attention === "gqa" ? kvCache : "float16",
          fusedOps: attempt.fusedOps,
          cpuFallbackAllowed: attempt.fallback && !onCpu,
          graphCapture: captures(attempt),
          graphMs,
          sessionMs: performance.now() - t0 - graphMs,
          failedAttempts: failed,
        }
        const window = options.window
        const sliding =
          attempt.attention === "gqa" && window !== undefined && window < context
            ? {
                window,
                move: yield* ort.open({
                  model: buildShiftGraph(config, {
                    capacity: context,
                    keep: window - 1,
                    kvCache,
                    batch,
                  }).toBytes(),
                  executionProviders: [options.provider],
                  disableCpuFallback: !attempt.fallback,
                  resident: { pool, bindings: resident.bindings.slice(0, 2 * config.numLayers) },
                }),
              }
            : undefined
        return { session: result.success, opened, sliding, pool }
      }
      failed.push(
        `${attempt.attention}${attempt.fusedOps ? "+fused" : ""}/${attempt.sampling}/opset ${attempt.opset}${attempt.fallback ? "+cpu-fallback" : ""}: ${result.failure.message}`,
      )
      if (attempt === attempts[attempts.length - 1]) return yield* Effect.fail(result.failure)
    }
    return yield* Effect.die("no attempt to open")
  })

/** Steps, prefill and restarts over an opened session. */
const makeGpuLm = (
  options: GpuLmOptions,
  session: Session,
  opened: GpuLmOpened,
  sliding: SlidingCache | undefined,
): GpuLm => {
  const { config, context } = options
  const linear = opened.attention === "gqa"
  const freqs = ropeFrequencies(config.dim / config.numHeads, config.maxPeriod)
  const S = options.layout.depformerSteps
  /** A run's sampler inputs (fresh arrays: the run hands its feeds' buffers over). */
  const samplerFeeds = (sampling: GpuLmSampling | undefined): Record<string, OrtTensor> => {
    const textNoise = sampling?.textNoise ?? new Float32Array(config.textCard)
    const audioNoise = sampling?.audioNoise ?? new Float32Array(S * config.card)
    if (textNoise.length !== config.textCard || audioNoise.length !== S * config.card)
      throw new Error(
        `sampling noise of ${textNoise.length} and ${audioNoise.length} values; ${config.textCard} and ${S * config.card} expected`,
      )
    return {
      [StepIo.textNoise]: f32(textNoise, [config.textCard]),
      [StepIo.audioNoise]: f32(audioNoise, [S, config.card]),
      ...(opened.sampling === "topk"
        ? {
            [StepIo.textTopK]: i64(BigInt64Array.of(BigInt(sampling?.textTopK ?? 1)), [1]),
            [StepIo.audioTopK]: i64(BigInt64Array.of(BigInt(sampling?.audioTopK ?? 1)), [1]),
          }
        : {}),
    }
  }
  let position = 0
  /** The frame in slot 0 of the sliding cache: it moves its last `keep` frames to the front when full. */
  let offset = 0
  const keep = sliding ? sliding.window - 1 : 0
  const snapshots = new Map<string, { readonly position: number; readonly offset: number }>()
  const fetches = [StepIo.tokens, ...(options.outputLogits ? [StepIo.textLogits, StepIo.audioLogits] : [])]
  const stepOf = (out: Record<string, OrtTensor>): GpuLmStep => ({
    textToken: (out[StepIo.tokens]!.data as Float32Array)[0]!,
    audioTokens: Int32Array.from((out[StepIo.tokens]!.data as Float32Array).subarray(1)),
    ...(options.outputLogits
      ? {
          textLogits: out[StepIo.textLogits]!.data as Float32Array,
          audioLogits: out[StepIo.audioLogits]!.data as Float32Array,
        }
      : {}),
  })

  const feedsFor = (
    rows: ReadonlyArray<Int32Array>,
    extra: Float32Array | undefined,
    sharedUser: boolean,
    sampling: GpuLmSampling | undefined,
  ) => {
    const T = rows.length
    return {
      ...tokenInputs(config, rows),
      ...(options.sharedCodes
        ? { [StepIo.userCodesWeight]: f32(Float32Array.of(sharedUser ? 1 : 0), [1]) }
        : {}),
      // A copy: the run hands its feeds' buffers over, and `extra` is the caller's.
      [StepIo.extra]: f32(extra ? extra.slice() : new Float32Array(T * config.dim), [1, T, config.dim]),
      ...(linear
        ? cacheLengthInputs(position - offset, T)
        : positionInputs(config, context, position, T, freqs)),
      ...(sliding ? windowInputs(position, T, sliding.window, context, offset, freqs) : {}),
      ...samplerFeeds(sampling),
    }
  }
  /** Room for `T` more rows: the sliding cache moves its last frames to the front, the fixed one refuses. */
  const fits = (T: number) =>
    Effect.gen(function* () {
      if (!linear || position - offset + T <= context) return
      if (!sliding) return yield* new GpuLmContextFull({ position, rows: T, capacity: context })
      const from = position - offset - keep
      yield* sliding.move.run(
        {
          [StepIo.shiftFrom]: i64(BigInt64Array.of(BigInt(from)), [1]),
          [StepIo.shiftUntil]: i64(BigInt64Array.of(BigInt(from + keep)), [1]),
        },
        [],
      )
      offset = position - keep
      // Every slot a snapshot relied on may have been overwritten.
      snapshots.clear()
    })

  /** `live`: outside the captured graph (prefill: any number of rows). */
  const run = (
    rows: ReadonlyArray<Int32Array>,
    extra: Float32Array | undefined,
    live: boolean,
    sharedUser: boolean,
    sampling: GpuLmSampling | undefined,
  ) =>
    Effect.gen(function* () {
      yield* fits(rows.length)
      const out = yield* session.run(feedsFor(rows, extra, sharedUser, sampling), fetches, {
        live,
        transferFeeds: true,
      })
      position += rows.length
      return stepOf(out)
    })

  const prefill = (rows: ReadonlyArray<Int32Array>, extra?: Float32Array) =>
    Effect.gen(function* () {
      let done = 0
      const dim = config.dim
      while (done < rows.length) {
        // A ring batch is exact while no row overwrites a slot an earlier row of the batch still sees;
        // a sliding cache's batch fits beside the frames it keeps.
        const T = sliding
          ? Math.min(rows.length - done, context - keep)
          : linear
            ? rows.length
            : Math.min(rows.length - done, Math.max(1, context - position))
        yield* run(
          rows.slice(done, done + T),
          extra?.subarray(done * dim, (done + T) * dim),
          true,
          false,
          undefined,
        )
        done += T
      }
    })

  const forgetPast = (p: number) => {
    for (const [key, at] of snapshots) if (at.position > p) snapshots.delete(key)
  }
  return {
    opened,
    position: () => position,
    capacity: linear && !sliding ? context : undefined,
    step: (tokens, extra, sampling) => run([tokens], extra, false, false, sampling),
    stepShared: (tokens, sampling) => {
      if (!options.sharedCodes) return Effect.fail(new GpuLmNoSharedCodes())
      // The user's streams embed to zero here; the graph adds the shared codes' embeddings.
      const row = new Int32Array(17).fill(-1)
      row.set(tokens.subarray(0, 9))
      return run([row], undefined, false, true, sampling)
    },
    prefill,
    reset: Effect.gen(function* () {
      if (!linear) yield* session.resetState
      position = 0
      offset = 0
      if (linear) forgetPast(0)
    }),
    snapshot: (key) =>
      Effect.gen(function* () {
        if (!linear) yield* session.snapshotState(key)
        snapshots.set(key, { position, offset })
      }),
    restore: (key) =>
      Effect.gen(function* () {
        const at = snapshots.get(key)
        if (at === undefined) return yield* Effect.fail(new GpuLmNoSnapshot({ key }))
        if (!linear) yield* session.restoreState(key)
        position = at.position
        offset = at.offset
        if (linear) forgetPast(at.position)
      }),
  }
}
