import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { AudioSource, paced } from "../src/index.ts"

/** Runs `stream` in a fiber, recording the virtual time at which each element arrives. */
const arrivals = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const times: Array<number> = []
    const fiber = yield* Stream.runForEach(stream, () =>
      Effect.map(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (t) => {
          times.push(t)
        },
      ),
    ).pipe(Effect.forkChild)
    return { times, fiber }
  })

const tenFrames = Stream.fromIterable(Array.from({ length: 10 }, () => new Float32Array(1920)))

describe("real-time pacer (virtual time, no sleeps)", () => {
  it.effect("10 frames at realtime take 800 ms: frame i arrives at (i + 1) * 80 ms", () =>
    Effect.gen(function* () {
      const { times, fiber } = yield* arrivals(paced(tenFrames, "realtime"))
      yield* TestClock.adjust("799 millis")
      assert.strictEqual(times.length, 9)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(times, [80, 160, 240, 320, 400, 480, 560, 640, 720, 800])
    }),
  )

  it.effect("fast mode emits everything without the clock moving", () =>
    Effect.gen(function* () {
      const { times, fiber } = yield* arrivals(paced(tenFrames, "fast"))
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(times, new Array(10).fill(0))
    }),
  )

  it.effect("deadlines are absolute: a consumer that stalls catches up instead of drifting", () =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const fiber = yield* Stream.runForEach(paced(tenFrames, "realtime"), (_frame) =>
        Effect.gen(function* () {
          times.push(yield* Effect.clockWith((clock) => clock.currentTimeMillis))
          // The third frame takes 250 ms to consume (three frame periods).
          if (times.length === 3) yield* Effect.sleep("250 millis")
        }),
      ).pipe(Effect.forkChild)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(times, [80, 160, 240, 490, 490, 490, 560, 640, 720, 800])
    }),
  )

  it.effect("silence paced in real time; each run of a source starts its own clock", () =>
    Effect.gen(function* () {
      const source = yield* AudioSource.use(Effect.succeed).pipe(
        Effect.provide(AudioSource.silence(3, { pace: "realtime" })),
      )
      const first = yield* arrivals(source.frames)
      yield* TestClock.adjust("240 millis")
      yield* Fiber.join(first.fiber)
      assert.deepStrictEqual(first.times, [80, 160, 240])
      const second = yield* arrivals(source.frames)
      yield* TestClock.adjust("240 millis")
      yield* Fiber.join(second.fiber)
      assert.deepStrictEqual(second.times, [320, 400, 480])
    }),
  )
})
