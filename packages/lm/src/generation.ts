import { Effect } from "effect"
import type { LmEngineShape } from "./engine/LmEngine.ts"
import { LmInputError, type LmRuntimeError } from "./errors.ts"
import type { Samplers } from "./sampling.ts"
import type { ProvidedTokens, TokenRing } from "./TokenRing.ts"

/** One LMGen step's results. */
export interface StepResult {
  /** `[17]` = text, agent 0..7, user 0..7; undefined during the two warm-up calls. */
  readonly output: Int32Array | undefined
  /** Whether the model ran (false only on the first call after a reset). */
  readonly ran: boolean
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
 * The LMGen step (upstream-spec §4.3-4.4) over a token ring, an engine and the samplers. A step is
 * uninterruptible: interruption (a cancelled prompt) takes effect between steps, so the token ring
 * and the KV cache always agree. The next frame's noise is drawn while this one runs.
 */
export const stepTokens = (
  engine: LmEngineShape,
  ring: TokenRing,
  samplers: Samplers,
  tokens: ProvidedTokens,
): Effect.Effect<StepResult, LmInputError | LmRuntimeError> =>
  Effect.gen(function* () {
    const { card, textCard } = engine.config
    const bad = checkCodes("user", tokens.user, card) ?? checkCodes("agent", tokens.agent, card)
    if (bad) return yield* bad
    if (
      tokens.text !== undefined &&
      (!Number.isInteger(tokens.text) || tokens.text < -1 || tokens.text > textCard)
    )
      return yield* new LmInputError({ field: "text", reason: `token ${tokens.text} outside 0..${textCard}` })
    const inputs = ring.prepare(tokens)
    if (!inputs) return { output: undefined, ran: false } satisfies StepResult
    const { text, audio } = samplers.take()
    const [out] = yield* Effect.all(
      [
        engine.step({
          tokens: inputs.input,
          text,
          audio,
          ...(inputs.targetProvided[0] ? { textForced: inputs.target[0]! } : {}),
          forced: inputs.target.subarray(1),
          forcedMask: inputs.targetProvided.subarray(1),
        }),
        Effect.sync(() => samplers.drawAhead()),
      ],
      { concurrency: 2 },
    )
    const output = ring.commit(out.textToken, out.audioTokens)
    return {
      output,
      ran: true,
      ...(out.textLogits ? { textLogits: out.textLogits } : {}),
      ...(out.audioLogits ? { audioLogits: out.audioLogits } : {}),
    } satisfies StepResult
  }).pipe(Effect.uninterruptible)

/**
 * The model input rows of steps whose every token is provided (the prompt phases), advancing the
 * token ring as those steps would: what a batched prefill runs.
 */
export const providedRows = (ring: TokenRing, steps: ReadonlyArray<ProvidedTokens>): Int32Array[] => {
  const rows: Int32Array[] = []
  for (const tokens of steps) {
    const inputs = ring.prepare(tokens)
    if (!inputs) continue
    rows.push(inputs.input)
    ring.commit(-1, [])
  }
  return rows
}
