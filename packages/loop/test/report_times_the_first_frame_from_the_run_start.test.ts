import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

/** One window at real-time pace that starts 2 s into the clock, its first prompt taking 100 ms. */
const runLate = (startedAtMs: number | undefined) =>
  Effect.gen(function* () {
    yield* TestClock.adjust("2000 millis")
    const world = fakeWorld(inputFrames(8), { promptDelayMs: 100 })
    const fiber = yield* runConversation({
      windowFrames: 4,
      initialPrompt: "Hi.",
      thinkingClip: [constantFrame(-1)],
      pace: "realtime",
      maxWindows: 1,
      ...(startedAtMs !== undefined ? { startedAtMs } : {}),
    }).pipe(Effect.provide(world.layer), Effect.forkChild)
    for (let i = 0; i < 10; i++) yield* TestClock.adjust("80 millis")
    return yield* Fiber.join(fiber)
  })

describe("run report: time to the first frame", () => {
  it.effect("counts from the caller's start (models loading) through the first prompt", () =>
    Effect.gen(function* () {
      // The caller started 2 s before the loop (loading models).
      const report = yield* runLate(0)
      assert.closeTo(report.timings.firstFrameMs!, 2100, 80)
      assert.isAtLeast(report.timings.firstFrameMs!, 2100)
    }),
  )

  it.effect("without a start given, counts from the loop's start; p99 is reported beside p95", () =>
    Effect.gen(function* () {
      const report = yield* runLate(undefined)
      assert.isBelow(report.timings.firstFrameMs!, 200)
      assert.isAtLeast(report.timings.firstFrameMs!, 100)
      assert.isAtLeast(report.timings.frame.p99Ms, report.timings.frame.p95Ms)
    }),
  )
})
