import { Effect } from "effect"
import { LmInputError, type LmRuntimeError } from "./errors.ts"
import type { MoshiLmShape } from "./MoshiLm.ts"
import type { Samplers } from "./sampling.ts"
import type { ProvidedTokens, TokenRing } from "./TokenRing.ts"

/** One LMGen step's results. */
export interface StepResult {
  /** `[17]` = text, agent 0..7, user 0..7; undefined during the two warm-up calls. */
  readonly output: Int32Array | undefined
  /** Whether the model ran (false only on the first call after a reset). */
  readonly ran: boolean
  /** The step's input embedding (what a voice-prompt cache stores). */
  readonly embedding?: Float32Array
  /** `[textCard]`, with `returnLogits`. */
  readonly textLogits?: Float32Array
  /** `[depformerSteps, card]`, with `returnLogits`. */
  readonly audioLogits?: Float32Array
}

const checkCodes = (field: string, codes: ArrayLike<number> | undefined, card: number) => {
  if (!codes) return undefined
  if (codes.length !== 8)
    return new LmInputError({ field, reason: `expected 8 codes, found ${codes.length}` })
  for (let i = 0; i < 8; i++) {
    const c = codes[i]!
    if (!Number.isInteger(c) || c < 0 || c > card)
      return new LmInputError({ field, reason: `code ${i} is ${c}, outside 0..${card}` })
  }
  return undefined
}

/**
 * The LMGen step (upstream-spec §4.3-4.4) over a token ring, the two graphs and the samplers.
 * A step is uninterruptible: interruption (a cancelled prompt) takes effect between steps, so the
 * token ring and the KV ring always agree.
 */
export const stepTokens = (
  lm: MoshiLmShape,
  ring: TokenRing,
  samplers: Samplers,
  tokens: ProvidedTokens,
  returnLogits: boolean,
): Effect.Effect<StepResult, LmInputError | LmRuntimeError> =>
  Effect.gen(function* () {
    const { card, textCard } = lm.config
    const bad = checkCodes("user", tokens.user, card) ?? checkCodes("agent", tokens.agent, card)
    if (bad) return yield* bad
    if (
      tokens.text !== undefined &&
      (!Number.isInteger(tokens.text) || tokens.text < -1 || tokens.text > textCard)
    )
      return yield* new LmInputError({ field: "text", reason: `token ${tokens.text} outside 0..${textCard}` })
    const inputs = ring.prepare(tokens)
    if (!inputs) return { output: undefined, ran: false } satisfies StepResult
    const temporal = yield* lm.temporal({ tokens: inputs.input, text: samplers.text(), returnLogits })
    // When every target token is provided (all prompt steps) nothing the depformer samples is kept:
    // skip it, unless its logits were asked for.
    const allProvided = inputs.targetProvided.every((p) => p === 1)
    const depformer =
      allProvided && !returnLogits
        ? { tokens: new Int32Array(0) }
        : yield* lm.depformer({
            hidden: temporal.hidden,
            text: inputs.targetProvided[0] ? inputs.target[0]! : temporal.textToken,
            forced: inputs.target.subarray(1),
            forcedMask: inputs.targetProvided.subarray(1),
            audio: samplers.audio(),
            returnLogits,
          })
    const output = ring.commit(temporal.textToken, depformer.tokens)
    return {
      output,
      ran: true,
      embedding: temporal.embedding,
      ...(temporal.textLogits ? { textLogits: temporal.textLogits } : {}),
      ...("logits" in depformer && depformer.logits ? { audioLogits: depformer.logits } : {}),
    } satisfies StepResult
  }).pipe(Effect.uninterruptible)
