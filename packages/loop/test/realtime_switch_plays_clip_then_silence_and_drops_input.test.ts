import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const clip = [constantFrame(-1), constantFrame(-2)]

describe("realtime pace: window switch", () => {
  it.effect("a compaction outlasting the clip is covered by silence frames, one per 80 ms", () =>
    Effect.gen(function* () {
      // compaction 500 ms, prompt 100 ms: the next window is ready 600 ms after the switch starts.
      const world = fakeWorld(inputFrames(40), { compactor: { delayMs: 500 }, promptDelayMs: 100 })
      const fiber = yield* runConversation({
        windowFrames: 4,
        initialPrompt: "Hi.",
        thinkingClip: clip,
        pace: "realtime",
        maxWindows: 2,
      }).pipe(Effect.provide(world.layer), Effect.forkChild)
      for (let i = 0; i < 40; i++) yield* TestClock.adjust("80 millis")
      const report = yield* Fiber.join(fiber)

      const [s] = report.switches
      // Slots at 0 and 80 ms play the clip; slots at 160..560 ms (6 of them) are silence; ready at 600 ms.
      assert.strictEqual(s!.clipFrames, 2)
      assert.strictEqual(s!.silenceFrames, 6)
      assert.closeTo(s!.pauseMs, 600, 1e-6)
      // The in-memory source never waits, so the dropper drains everything left.
      assert.isAbove(s!.droppedInputFrames, 0)
      const values = world.written.map((f) => f[0]!)
      assert.deepStrictEqual(values.slice(4, 12), [-1, -2, 0, 0, 0, 0, 0, 0])
    }),
  )

  it.effect("a compaction finishing within the clip adds no silence", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(40), { compactor: { delayMs: 50 } })
      const fiber = yield* runConversation({
        windowFrames: 4,
        initialPrompt: "Hi.",
        thinkingClip: clip,
        pace: "realtime",
        maxWindows: 2,
      }).pipe(Effect.provide(world.layer), Effect.forkChild)
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("80 millis")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(report.switches[0]!.silenceFrames, 0)
      assert.strictEqual(world.written.length, 4 + 2 + 4)
    }),
  )
})
