import { Cause, Clock, Duration, Effect, Exit, Fiber, Metric, Option } from "effect"
import { extractivePrompt } from "./extractive.ts"
import { enforceBudget, enforceWordBudget } from "./makeCompactor.ts"
import { CompactionMetrics } from "./metrics.ts"
import { promptWords } from "./promptShape.ts"
import type { CompactionInput, CompactionResult, CompactorShape } from "./types.ts"
import { DEFAULT_WORD_BUDGET } from "./types.ts"

/** A compactor whose `compact` cannot fail: what {@link withDeadline} returns. */
export interface GuardedCompactorShape extends CompactorShape {
  compact(input: CompactionInput): Effect.Effect<CompactionResult>
}

export interface DeadlineOptions {
  /** Replaces the deterministic extractive summary used on timeout or error. */
  readonly fallback?: (input: CompactionInput) => string
}

const usableBudget = (input: CompactionInput) => {
  const budget = input.wordBudget ?? DEFAULT_WORD_BUDGET
  return Number.isInteger(budget) && budget >= 1 ? budget : DEFAULT_WORD_BUDGET
}

/** The previous prompt's content plus a deterministic summary of the windows, within the budget. */
export const fallbackPrompt = (input: CompactionInput): string =>
  extractivePrompt({ ...input, wordBudget: usableBudget(input) })

// A caller's token counter that throws must not break the guarantee that the guard never fails.
const safelyWithinBudget = (prompt: string, budget: Parameters<typeof enforceBudget>[1]): string => {
  try {
    return enforceBudget(prompt, budget)
  } catch {
    return enforceWordBudget(prompt, budget.wordBudget)
  }
}

const reasonOf = <E>(cause: Cause.Cause<E>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message
  return String(error)
}

/**
 * Guard a compactor so that the loop is never held up by it: if it does not finish within
 * `deadline`, or fails in any way, the result is the deterministic fallback prompt with
 * `source: "fallback"` and the reason. The late compaction is interrupted in the background (which
 * aborts a running generation) without waiting for it. Every result is wrapped and within budget.
 */
export const withDeadline =
  (deadline: Duration.Input, options: DeadlineOptions = {}) =>
  (inner: CompactorShape): GuardedCompactorShape => {
    const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(deadline))
    const fallback = options.fallback ?? fallbackPrompt
    return {
      compact: (input) =>
        Effect.gen(function* () {
          const start = yield* Clock.currentTimeMillis
          const budget = {
            wordBudget: usableBudget(input),
            ...(input.tokenBudget !== undefined && input.countTokens !== undefined
              ? { tokenBudget: input.tokenBudget, countTokens: input.countTokens }
              : {}),
          }
          const fiber = yield* Effect.forkDetach(inner.compact(input))
          const outcome = yield* Fiber.await(fiber).pipe(
            Effect.timeoutOption(deadline),
            Effect.onInterrupt(() => Effect.forkDetach(Fiber.interrupt(fiber))),
          )
          const end = yield* Clock.currentTimeMillis
          const fallbackResult = (reason: string): CompactionResult => {
            const prompt = safelyWithinBudget(fallback(input), budget)
            return {
              prompt,
              source: "fallback",
              reason,
              durationMs: end - start,
              backend: "fallback",
              words: promptWords(prompt),
            }
          }
          if (Option.isNone(outcome)) {
            yield* Effect.forkDetach(Fiber.interrupt(fiber))
            yield* Metric.update(CompactionMetrics.fallbacks, 1)
            return fallbackResult(`compaction did not finish within ${timeoutMs} ms`)
          }
          const exit = outcome.value
          if (Exit.isFailure(exit)) {
            yield* Metric.update(CompactionMetrics.fallbacks, 1)
            return fallbackResult(reasonOf(exit.cause))
          }
          const prompt = safelyWithinBudget(exit.value.prompt, budget)
          return { ...exit.value, prompt, words: promptWords(prompt) }
        }),
    }
  }
