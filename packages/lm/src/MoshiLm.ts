import { OrtSession, type OrtTensor, type Session } from "@personaplex/runtime"
import { Context, Effect, Layer, type Scope } from "effect"
import { LmConfigError, type LmError, LmRuntimeError } from "./errors.ts"
import { DepformerIo } from "./graph/depformer.ts"
import { type PreparedModel, prepareGraphs } from "./graph/prepare.ts"
import { QUANTIZATIONS, type Quantization } from "./graph/quantize.ts"
import { TemporalIo } from "./graph/temporal.ts"
import type { WeightStorage } from "./graph/weights.ts"
import type { LmBaseShape } from "./LmBaseShape.ts"
import { LmConfig } from "./LmConfig.ts"
import { LmMetrics, timed } from "./metrics.ts"

export interface MoshiLmOptions {
  /** LM `.safetensors` (file, shard index or folder). */
  readonly checkpoint: string
  readonly config?: LmConfig
  /** Attention window in frames (KV ring capacity). Default: the config's context (3000). */
  readonly context?: number
  readonly quantization?: Quantization
  /** 8 (agent codebooks only, default) or 16 (upstream; needed for the user-half logits). */
  readonly depformerSteps?: 8 | 16
  /** Reproduce upstream's ring cache, which sees one key fewer than `context` once wrapped. Default false. */
  readonly upstreamRingQuirk?: boolean
  /**
   * `inline`: weights read, widened to f32 (or quantized) and stored in the graphs. `external`: the
   * checkpoint's tensors referenced in place as ONNX external data (bf16 tables gathered then cast;
   * float linears cast at session creation); quantized linears are always built in memory.
   * Default: external for checkpoints over 1 GiB.
   */
  readonly weightStorage?: WeightStorage
  /**
   * Folder for saved graphs (external weights, or over 1.8 GB), on the checkpoint's file system
   * (external data is hard-linked beside the model). Default: a temp folder removed at scope close.
   */
  readonly graphDir?: string
  /**
   * Keep the built graphs (quantized weights included) under this folder, keyed by the checkpoint
   * file(s) (path, size, mtime) and every option that shapes the graphs; later layers with the same
   * key open them without reading or quantizing the checkpoint. Same file system as the checkpoint.
   */
  readonly cacheDir?: string
}

/** How one head samples: temperature, top-k (1..vocab), and Gumbel noise (zeros = greedy). */
export interface Sampler {
  readonly temperature: number
  readonly topK: number
  readonly noise: Float32Array
}

export interface TemporalInput {
  /** The 17 model input tokens (−1 embeds to zero). */
  readonly tokens: Int32Array
  /** Added to the summed embeddings (replayed voice-prompt embedding), `[dim]`. */
  readonly extraEmbedding?: Float32Array
  readonly text: Sampler
  readonly returnLogits?: boolean
}

export interface TemporalOutput {
  /** `out_norm` output, what the depformer consumes. `[dim]` */
  readonly hidden: Float32Array
  readonly textToken: number
  readonly textLogits?: Float32Array
  /** The summed input embedding (what a voice-prompt cache stores). `[dim]` */
  readonly embedding: Float32Array
}

export interface DepformerInput {
  readonly hidden: Float32Array
  readonly text: number
  /** Per depformer step: the provided token (used when `forcedMask` is 1). */
  readonly forced: Int32Array
  readonly forcedMask: Uint8Array
  readonly audio: Sampler
  readonly returnLogits?: boolean
}

export interface DepformerOutput {
  /** Sampled tokens, one per depformer step. */
  readonly tokens: Int32Array
  /** `[steps, card]` */
  readonly logits?: Float32Array
}

/** The temporal transformer's KV ring and position: everything a step reads besides its inputs. */
export interface MoshiLmState {
  readonly position: number
  /** Per layer: keys then values, each `[heads, context, headDim]`. */
  readonly caches: ReadonlyArray<Float32Array>
}

export interface MoshiLmShape extends LmBaseShape {
  /** One temporal step at the current position; advances the position and the KV ring. */
  temporal(input: TemporalInput): Effect.Effect<TemporalOutput, LmRuntimeError>
  /** The depformer loop of one frame. Stateless. */
  depformer(input: DepformerInput): Effect.Effect<DepformerOutput, LmRuntimeError>
  readonly reset: Effect.Effect<void>
  readonly snapshot: Effect.Effect<MoshiLmState>
  restore(state: MoshiLmState): Effect.Effect<void, LmConfigError>
}

const int64 = (values: ArrayLike<number>): OrtTensor => ({
  type: "int64",
  dims: [values.length],
  data: BigInt64Array.from(Array.from(values, BigInt)),
})
const f32 = (data: Float32Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "float32", dims, data })

/**
 * The Moshi LM as two onnxruntime sessions: the temporal step (with its KV ring as explicit
 * state held here) and the depformer loop. Sampling happens inside both graphs.
 */
export class MoshiLm extends Context.Service<MoshiLm, MoshiLmShape>()("@personaplex/lm/MoshiLm") {
  static make(options: MoshiLmOptions): Effect.Effect<MoshiLmShape, LmError, OrtSession | Scope.Scope> {
    return Effect.gen(function* () {
      const config = options.config ?? LmConfig.personaplex
      const context = options.context ?? config.context
      if (!Number.isInteger(context) || context < 1)
        return yield* new LmConfigError({
          field: "context",
          reason: `expected a positive integer, found ${context}`,
        })
      const depformerSteps = options.depformerSteps ?? 8
      if (depformerSteps !== 8 && depformerSteps !== 16)
        return yield* new LmConfigError({
          field: "depformerSteps",
          reason: `expected 8 or 16, found ${depformerSteps}`,
        })
      const quantization = options.quantization ?? "none"
      if (!QUANTIZATIONS.includes(quantization))
        return yield* new LmConfigError({
          field: "quantization",
          reason: `expected ${QUANTIZATIONS.map((q) => `"${q}"`).join(", ")}, found ${quantization}`,
        })
      const upstreamRingQuirk = options.upstreamRingQuirk ?? false
      const prepared = yield* prepareGraphs(
        config,
        {
          checkpoint: options.checkpoint,
          context,
          quantization,
          depformerSteps,
          upstreamRingQuirk,
          weightStorage: options.weightStorage,
        },
        { cacheDir: options.cacheDir, graphDir: options.graphDir },
      )
      const ort = yield* OrtSession
      const open = (name: string, { model, mapped }: PreparedModel) =>
        ort
          .open({ model, disablePrepacking: mapped })
          .pipe(
            Effect.mapError((e) => new LmRuntimeError({ stage: "open", reason: `${name}: ${e.message}` })),
          )
      const temporalSession: Session = yield* open("temporal graph", prepared.temporal)
      const depformerSession: Session = yield* open("depformer graph", prepared.depformer)

      const { dim, numLayers, textCard, card } = config
      const cacheSize = context * dim
      const headDim = dim / config.numHeads
      let position = 0
      // Shared memory: posting the rings to the onnxruntime worker thread shares them instead of copying.
      const caches: Float32Array[] = Array.from(
        { length: 2 * numLayers },
        () => new Float32Array(new SharedArrayBuffer(cacheSize * Float32Array.BYTES_PER_ELEMENT)),
      )

      const checkSampler = (s: Sampler, vocab: number, rows: number, stage: "temporal" | "depformer") =>
        s.noise.length !== vocab * rows
          ? Effect.fail(
              new LmRuntimeError({
                stage,
                reason: `sampling noise has ${s.noise.length} values, expected ${vocab * rows}`,
              }),
            )
          : Effect.void

      const temporal = (input: TemporalInput) =>
        Effect.gen(function* () {
          yield* checkSampler(input.text, textCard, 1, "temporal")
          const feeds: Record<string, OrtTensor> = {
            [TemporalIo.tokens]: int64(input.tokens),
            [TemporalIo.extraEmbedding]: f32(input.extraEmbedding ?? new Float32Array(dim), [1, dim]),
            [TemporalIo.position]: int64([position]),
            [TemporalIo.textNoise]: f32(input.text.noise, [textCard]),
            [TemporalIo.textTemperature]: f32(Float32Array.of(input.text.temperature), [1]),
            [TemporalIo.textTopK]: int64([Math.min(textCard, Math.max(1, input.text.topK))]),
          }
          const ringDims = [config.numHeads, context, headDim]
          for (let l = 0; l < numLayers; l++) {
            feeds[TemporalIo.keys(l)] = f32(caches[2 * l]!, ringDims)
            feeds[TemporalIo.values(l)] = f32(caches[2 * l + 1]!, ringDims)
          }
          const fetches = [
            TemporalIo.hidden,
            TemporalIo.textToken,
            TemporalIo.embedding,
            ...(input.returnLogits ? [TemporalIo.textLogits] : []),
            ...Array.from({ length: numLayers }, (_, l) => TemporalIo.newKv(l)),
          ]
          const out = yield* temporalSession.run(feeds, fetches).pipe(
            Effect.mapError((e) => new LmRuntimeError({ stage: "temporal", reason: e.message })),
            timed(LmMetrics.temporalMs),
          )
          // Commit the new state in one synchronous step: an interrupted run leaves the previous state intact.
          // Only the new row comes back; the ring is updated here, as the graph did internally.
          const slot = position % context
          for (let l = 0; l < numLayers; l++) {
            const kv = out[TemporalIo.newKv(l)]!.data as Float32Array
            for (let h = 0; h < config.numHeads; h++) {
              const at = (h * context + slot) * headDim
              caches[2 * l]!.set(kv.subarray(h * headDim, (h + 1) * headDim), at)
              caches[2 * l + 1]!.set(kv.subarray(dim + h * headDim, dim + (h + 1) * headDim), at)
            }
          }
          position += 1
          const result: TemporalOutput = {
            hidden: out[TemporalIo.hidden]!.data as Float32Array,
            textToken: Number((out[TemporalIo.textToken]!.data as BigInt64Array)[0]),
            embedding: out[TemporalIo.embedding]!.data as Float32Array,
            ...(input.returnLogits ? { textLogits: out[TemporalIo.textLogits]!.data as Float32Array } : {}),
          }
          return result
        })

      const depformer = (input: DepformerInput) =>
        Effect.gen(function* () {
          yield* checkSampler(input.audio, card, depformerSteps, "depformer")
          const S = depformerSteps
          const out = yield* depformerSession
            .run(
              {
                [DepformerIo.hidden]: f32(input.hidden, [1, dim]),
                [DepformerIo.text]: int64([input.text]),
                [DepformerIo.forced]: int64(input.forced.subarray(0, S)),
                [DepformerIo.forcedMask]: {
                  type: "bool",
                  dims: [S],
                  data: Uint8Array.from(input.forcedMask.subarray(0, S)),
                },
                [DepformerIo.noise]: f32(input.audio.noise, [S, card]),
                [DepformerIo.temperature]: f32(Float32Array.of(input.audio.temperature), [1]),
                [DepformerIo.topK]: int64([Math.min(card, Math.max(1, input.audio.topK))]),
              },
              input.returnLogits ? [DepformerIo.tokens, DepformerIo.logits] : [DepformerIo.tokens],
            )
            .pipe(
              Effect.mapError((e) => new LmRuntimeError({ stage: "depformer", reason: e.message })),
              timed(LmMetrics.depformerMs),
            )
          const result: DepformerOutput = {
            tokens: Int32Array.from(out[DepformerIo.tokens]!.data as BigInt64Array, Number),
            ...(input.returnLogits ? { logits: out[DepformerIo.logits]!.data as Float32Array } : {}),
          }
          return result
        })

      return MoshiLm.of({
        provider: temporalSession.provider,
        config,
        context,
        depformerSteps,
        quantization,
        graphSource: prepared.source,
        position: Effect.sync(() => position),
        temporal,
        depformer,
        // Stale slots need no clearing: the mask hides every slot at or beyond the position.
        reset: Effect.sync(() => {
          position = 0
        }),
        snapshot: Effect.sync(() => ({ position, caches: caches.map((c) => c.slice()) })),
        restore: (state) =>
          state.caches.length !== 2 * numLayers || state.caches.some((c) => c.length !== cacheSize)
            ? Effect.fail(
                new LmConfigError({
                  field: "state",
                  reason: `snapshot does not match ${numLayers} layers of key and value rings [${config.numHeads}, ${context}, ${headDim}]`,
                }),
              )
            : Effect.sync(() => {
                position = state.position
                for (const [i, c] of state.caches.entries()) caches[i]!.set(c)
              }),
      })
    })
  }

  static layer(options: MoshiLmOptions): Layer.Layer<MoshiLm, LmError, OrtSession> {
    return Layer.effect(MoshiLm, MoshiLm.make(options))
  }
}
