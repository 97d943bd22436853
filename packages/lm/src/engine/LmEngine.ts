import type { Effect } from "effect"
import type { LmConfigError, LmRuntimeError } from "../errors.ts"
import type { LmBaseShape } from "../LmBaseShape.ts"
import type { Sampler } from "../MoshiLm.ts"

/**
 * How the LM runs. `two-graph`: a temporal step and a depformer loop, the KV ring as explicit values
 * (the reference, fast on the CPU). `fused`: one graph per frame (temporal, depformer, sampling) with
 * the KV cache resident on the device and written in place, batched prefill, captured replay on WebGPU.
 */
export type LmEngineForm = "two-graph" | "fused"

/** One frame of the model: the 17 input tokens in, the text token and one audio token per depformer step out. */
export interface EngineStepInput {
  /** The 17 model input tokens (−1 embeds to zero). */
  readonly tokens: Int32Array
  /** Added to the summed embeddings (a replayed voice-prompt embedding), `[dim]`. */
  readonly extraEmbedding?: Float32Array
  readonly text: Sampler
  /** Noise `[depformerSteps, card]`. */
  readonly audio: Sampler
  /** The text token, when provided (teacher forcing): the depformer is conditioned on it. */
  readonly textForced?: number
  /** Per depformer step: the provided token, used where `forcedMask` is 1. */
  readonly forced: Int32Array
  readonly forcedMask: Uint8Array
}

export interface EngineStepOutput {
  readonly textToken: number
  /** One token per depformer step (the forced ones where forced). */
  readonly audioTokens: Int32Array
  /** `[textCard]`, from an engine opened with logits. */
  readonly textLogits?: Float32Array
  /** `[depformerSteps, card]`, from an engine opened with logits. */
  readonly audioLogits?: Float32Array
}

/** A point to come back to (`snapshot` / `restore`); only meaningful to the engine that made it. */
export interface LmEngineState {
  readonly form: LmEngineForm
  readonly position: number
  /** `two-graph`: the KV ring's values. `fused`: the engine keeps the state, this names it. */
  readonly caches?: ReadonlyArray<Float32Array>
  readonly key?: string
}

/** The contract `LmGen` drives, whatever runs the model. */
export interface LmEngineShape extends LmBaseShape {
  readonly form: LmEngineForm
  /** Frames a reset leaves room for; undefined when the engine slides without limit. */
  readonly capacity: number | undefined
  /** Whether `snapshot` costs next to nothing (no copy of the KV cache): `LmGen` then keeps the voice phase's. */
  readonly cheapSnapshots: boolean
  /** One frame at the current position. Uninterruptible in effect: the state advances only when it completes. */
  step(input: EngineStepInput): Effect.Effect<EngineStepOutput, LmRuntimeError>
  /**
   * Known rows (17 tokens each, every token provided: the prompt phases) through the temporal
   * transformer, as few runs as exact; `extra` is `[rows, dim]`. With `embeddings`, returns each row's
   * summed input embedding `[rows, dim]` (what a voice-prompt cache stores).
   */
  prefill(
    rows: ReadonlyArray<Int32Array>,
    options?: { readonly extra?: Float32Array; readonly embeddings?: boolean },
  ): Effect.Effect<Float32Array | undefined, LmRuntimeError>
  readonly reset: Effect.Effect<void, LmRuntimeError>
  readonly snapshot: Effect.Effect<LmEngineState, LmRuntimeError>
  restore(state: LmEngineState): Effect.Effect<void, LmConfigError | LmRuntimeError>
}
