import { Clock, Duration, Effect, Stream } from "effect"
import { FRAME_DURATION } from "./constants.ts"

/** "realtime": one frame per 80 ms of clock time, like a microphone; "fast": as fast as the consumer pulls. */
export type Pace = "realtime" | "fast"

const nowMillis = Effect.map(Clock.monotonicTimeNanos, (nanos) => Number(nanos) / 1e6)

/**
 * Paces a stream of frames against the Effect clock. In "realtime", element i is released at
 * start + (i + 1) * interval (the moment a microphone would have finished recording it); the
 * deadlines are absolute, so a late consumer catches up instead of drifting.
 */
export const paced = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  pace: Pace,
  interval: Duration.Input = FRAME_DURATION,
): Stream.Stream<A, E, R> => {
  if (pace === "fast") return stream
  const step = Duration.toMillis(interval)
  return Stream.unwrap(
    Effect.map(nowMillis, (start) =>
      Stream.mapEffect(stream, (item, index) =>
        Effect.flatMap(nowMillis, (now) => {
          const wait = start + (index + 1) * step - now
          return wait > 0 ? Effect.as(Effect.sleep(Duration.millis(wait)), item) : Effect.succeed(item)
        }),
      ),
    ),
  )
}
