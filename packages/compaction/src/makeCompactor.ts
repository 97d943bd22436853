import { Clock, Effect, Metric } from "effect"
import { type CompactionError, CompactionInputError } from "./errors.ts"
import { CompactionMetrics } from "./metrics.ts"
import { promptWords } from "./promptShape.ts"
import type { WrittenPrompt } from "./promptTemplate.ts"
import { unwrapSystemTags, wrapWithSystemTags } from "./systemTags.ts"
import {
  type CompactionInput,
  type CompactionResult,
  DEFAULT_WORD_BUDGET,
  type SpeakerTurn,
} from "./types.ts"
import { truncateToWords } from "./wordBudget.ts"

/** The input with its word budget resolved, after the checks every compactor needs. */
export type ResolvedInput = CompactionInput & { readonly wordBudget: number }

export const resolveInput = (input: CompactionInput): Effect.Effect<ResolvedInput, CompactionInputError> => {
  const wordBudget = input.wordBudget ?? DEFAULT_WORD_BUDGET
  if (!Number.isInteger(wordBudget) || wordBudget < 1)
    return Effect.fail(
      new CompactionInputError({
        field: "wordBudget",
        reason: `must be a positive integer, got ${wordBudget}`,
      }),
    )
  if (input.tokenBudget !== undefined && (!Number.isInteger(input.tokenBudget) || input.tokenBudget < 1))
    return Effect.fail(
      new CompactionInputError({
        field: "tokenBudget",
        reason: `must be a positive integer, got ${input.tokenBudget}`,
      }),
    )
  if ((input.tokenBudget === undefined) !== (input.countTokens === undefined))
    return Effect.fail(
      new CompactionInputError({
        field: input.tokenBudget === undefined ? "tokenBudget" : "countTokens",
        reason: "tokenBudget and countTokens go together: give both or neither",
      }),
    )
  if (typeof input.basePersona !== "string")
    return Effect.fail(new CompactionInputError({ field: "basePersona", reason: "must be a string" }))
  if (!Array.isArray(input.history))
    return Effect.fail(
      new CompactionInputError({ field: "history", reason: "must be an array of window transcripts" }),
    )
  const bad = input.history.findIndex(
    (w) => typeof w?.agentText !== "string" || (w.userText !== undefined && typeof w.userText !== "string"),
  )
  if (bad >= 0)
    return Effect.fail(
      new CompactionInputError({
        field: `history[${bad}]`,
        reason: "agentText (and userText, when present) must be strings",
      }),
    )
  const isTurn = (t: SpeakerTurn | undefined) =>
    (t?.speaker === "user" || t?.speaker === "agent") && typeof t.text === "string"
  const badTurns = input.history.findIndex(
    (w) => w.turns !== undefined && (!Array.isArray(w.turns) || !w.turns.every(isTurn)),
  )
  if (badTurns >= 0)
    return Effect.fail(
      new CompactionInputError({
        field: `history[${badTurns}].turns`,
        reason: 'each turn needs speaker "user" or "agent" and a text string',
      }),
    )
  return Effect.succeed({ ...input, wordBudget })
}

/** Any prompt, wrapped and cut to the word budget (the words between the tags). */
export const enforceWordBudget = (prompt: string, wordBudget: number): string =>
  wrapWithSystemTags(truncateToWords(unwrapSystemTags(prompt), wordBudget))

/**
 * Any prompt, wrapped and cut to the word budget and, when the input has one, the token budget:
 * the most words whose wrapped prompt still fits, found by bisection.
 */
export const enforceBudget = (
  prompt: string,
  budget: {
    readonly wordBudget: number
    readonly tokenBudget?: number
    readonly countTokens?: (text: string) => number
  },
): string => {
  const byWords = enforceWordBudget(prompt, budget.wordBudget)
  const { tokenBudget, countTokens } = budget
  if (tokenBudget === undefined || countTokens === undefined || countTokens(byWords) <= tokenBudget)
    return byWords
  const text = unwrapSystemTags(byWords)
  const fits = (n: number) => countTokens(wrapWithSystemTags(truncateToWords(text, n))) <= tokenBudget
  let lo = 0
  let hi = promptWords(byWords)
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (fits(mid)) lo = mid
    else hi = mid - 1
  }
  // Sentence-end cuts make the count not quite monotonic in n: step down until it really fits.
  while (lo > 0 && !fits(lo)) lo--
  return wrapWithSystemTags(truncateToWords(text, lo))
}

/**
 * Build a Compactor from a function that writes the prompt text: input checks, timing, the word
 * budget and the `<system>` wrapping are done here, so a custom layer cannot get them wrong.
 */
export const makeCompactor = <E extends CompactionError, R>(
  backend: string,
  write: (input: ResolvedInput) => Effect.Effect<string | WrittenPrompt, E, R>,
): ((input: CompactionInput) => Effect.Effect<CompactionResult, E | CompactionInputError, R>) =>
  Effect.fnUntraced(function* (input: CompactionInput) {
    const start = yield* Clock.currentTimeMillis
    const resolved = yield* resolveInput(input)
    const written = yield* write(resolved)
    const { prompt: text, note } =
      typeof written === "string" ? { prompt: written, note: undefined } : written
    const prompt = enforceBudget(text, resolved)
    const end = yield* Clock.currentTimeMillis
    yield* Metric.update(CompactionMetrics.durationMs, end - start)
    return {
      prompt,
      source: "model",
      durationMs: end - start,
      backend,
      words: promptWords(prompt),
      ...(note === undefined ? {} : { note }),
    } satisfies CompactionResult
  })
