import { Clock, Duration, Effect, Option } from "effect"
import {
  type CompactionInput,
  type CompactionResult,
  type CompactorShape,
  fallbackPrompt,
} from "./services.ts"

const nowMs = Effect.map(Clock.currentTimeNanos, (n) => Number(n) / 1e6)

/**
 * Runs the compactor so that it can never stop the loop: a failure, or no answer within
 * `deadlineMs`, gives the same fallback as the compaction package's deadline guard (the
 * previous prompt's content plus an extractive summary), with `source: "fallback"` and why.
 */
export const compactSafely = (
  compactor: CompactorShape,
  input: CompactionInput,
  deadlineMs?: number,
): Effect.Effect<CompactionResult> =>
  Effect.gen(function* () {
    const start = yield* nowMs
    const fallback = (reason: string) =>
      Effect.map(
        nowMs,
        (end): CompactionResult => ({
          prompt: fallbackPrompt(input),
          source: "fallback",
          reason,
          durationMs: end - start,
        }),
      )
    const bounded =
      deadlineMs === undefined
        ? compactor.compact(input)
        : compactor.compact(input).pipe(
            Effect.timeoutOption(Duration.millis(deadlineMs)),
            Effect.flatMap(
              Option.match({
                onNone: () => fallback(`compaction exceeded its ${deadlineMs} ms deadline`),
                onSome: Effect.succeed,
              }),
            ),
          )
    return yield* bounded.pipe(
      Effect.catch((error) => fallback(`compactor failed: ${error.message ?? String(error)}`)),
    )
  })
