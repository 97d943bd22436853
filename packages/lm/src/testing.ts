import { Effect } from "effect"
import { SILENCE_TOKENS, SINE_TOKENS, TEXT_PAD } from "./constants.ts"
import { LmConfig } from "./LmConfig.ts"
import type { MoshiLmShape, MoshiLmState } from "./MoshiLm.ts"

/** The tiny upstream LM architecture at real vocabulary sizes: random-weight checkpoints for tests and the CPU benchmark. */
export const tinyLmConfig: LmConfig = LmConfig.fromJson({
  dim: 64,
  text_card: 1000,
  existing_text_padding_id: 3,
  n_q: 16,
  dep_q: 16,
  card: 2048,
  num_heads: 4,
  num_layers: 2,
  hidden_scale: 4.125,
  context: 3000,
  max_period: 10000,
  depformer_dim: 32,
  depformer_dim_feedforward: 132,
  depformer_num_heads: 4,
  depformer_num_layers: 2,
  delays: [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
})

/** What the stand-in model "says" each frame: text id and 8 agent codes. */
export interface ScriptedFrame {
  readonly text: number
  readonly agent: ArrayLike<number>
}

/**
 * A model-free `MoshiLmShape` for tests of code built on `LmGen`: it samples `script(frame)` (default:
 * PAD text and the silence codes) while `LmGen` keeps upstream's token ring, warm-up and prompt
 * phases. No onnxruntime, no weights.
 */
export const scriptedMoshiLm = (
  options: { readonly config?: LmConfig; readonly script?: (frame: number) => ScriptedFrame } = {},
): MoshiLmShape => {
  const config = options.config ?? LmConfig.personaplex
  const script = options.script ?? (() => ({ text: TEXT_PAD, agent: SILENCE_TOKENS }))
  let position = 0
  const zeros = new Float32Array(config.dim)
  return {
    provider: "cpu",
    config,
    context: config.context,
    depformerSteps: 8,
    quantization: "none",
    graphSource: "built",
    position: Effect.sync(() => position),
    temporal: () =>
      Effect.sync(() => {
        const frame = script(position)
        position += 1
        return {
          hidden: Float32Array.of(frame.text, ...Array.from(frame.agent)),
          textToken: frame.text,
          embedding: zeros,
        }
      }),
    // The "hidden" state carries the scripted frame from the temporal step to the depformer.
    depformer: (input) =>
      Effect.succeed({
        tokens: Int32Array.from({ length: 8 }, (_, k) =>
          input.hidden.length > 8 ? input.hidden[1 + k]! : SINE_TOKENS[k]!,
        ),
      }),
    reset: Effect.sync(() => {
      position = 0
    }),
    snapshot: Effect.sync((): MoshiLmState => ({ position, caches: [] })),
    restore: (state) =>
      Effect.sync(() => {
        position = state.position
      }),
  }
}
