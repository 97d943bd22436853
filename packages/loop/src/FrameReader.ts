import { Effect, Option, Pull, type Scope, Stream } from "effect"

/**
 * Reads an audio stream one frame at a time, on demand: the loop decides when it wants
 * the next input frame (during a window) and when it does not (during a switch).
 */
export interface FrameReader<E> {
  /** The next frame, or `None` once the stream has ended (and on every later call). */
  readonly next: Effect.Effect<Option.Option<Float32Array>, E>
}

export const makeFrameReader = <E, R>(
  frames: Stream.Stream<Float32Array, E, R>,
): Effect.Effect<FrameReader<E>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(frames)
    let buffered: ReadonlyArray<Float32Array> = []
    let position = 0
    let ended = false

    const refill: Effect.Effect<boolean, E> = Pull.matchEffect(pull, {
      onSuccess: (chunk) =>
        Effect.sync(() => {
          buffered = chunk
          position = 0
          return true
        }),
      onFailure: (cause) => Effect.failCause(cause),
      onDone: () =>
        Effect.sync(() => {
          ended = true
          return false
        }),
    })

    const next: Effect.Effect<Option.Option<Float32Array>, E> = Effect.suspend(() => {
      if (position < buffered.length) return Effect.succeed(Option.some(buffered[position++]!))
      if (ended) return Effect.succeed(Option.none())
      return Effect.flatMap(refill, (more) => (more ? next : Effect.succeed(Option.none())))
    })

    return { next }
  })
