import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const clip = [constantFrame(-1), constantFrame(-2), constantFrame(-3)]

describe("fast pace: output timeline", () => {
  it.effect(
    "three windows: one output frame per input frame, a thinking clip at each of the two switches",
    () =>
      Effect.gen(function* () {
        const input = inputFrames(15)
        const world = fakeWorld(input, { warmup: 1 })
        const report = yield* runConversation({
          windowFrames: 5,
          initialPrompt: "Be kind.",
          thinkingClip: clip,
        }).pipe(Effect.provide(world.layer))

        assert.strictEqual(world.written.length, 15 + 2 * clip.length)
        assert.strictEqual(report.outputFrames, 21)
        assert.strictEqual(report.inputFrames, 15)
        assert.strictEqual(report.windows.length, 3)
        assert.strictEqual(report.switches.length, 2)
        assert.strictEqual(world.lm.prompts.length, 3)

        // Window 0: frames 0..4, the first one silent (LM warm-up), then agent audio (user code + 100).
        const values = world.written.map((f) => f[0]!)
        assert.strictEqual(values[0], 0)
        assert.closeTo(values[1]!, (2 + 100) / 1000, 1e-6)
        // Then the clip, verbatim, then window 1 starts with input frame 5 (nothing dropped).
        assert.deepStrictEqual(values.slice(5, 8), [-1, -2, -3])
        assert.strictEqual(values[8], 0) // warm-up after the re-prompt
        assert.closeTo(values[9]!, (7 + 100) / 1000, 1e-6)
        assert.deepStrictEqual(values.slice(13, 16), [-1, -2, -3])

        assert.deepStrictEqual(
          report.windows.map((w) => [w.outputStartFrame, w.inputFrames, w.silentOutputFrames]),
          [
            [0, 5, 1],
            [8, 5, 1],
            [16, 5, 1],
          ],
        )
        assert.deepStrictEqual(
          report.switches.map((s) => [s.afterWindow, s.clipFrames, s.silenceFrames, s.droppedInputFrames]),
          [
            [0, 3, 0, 0],
            [1, 3, 0, 0],
          ],
        )
      }),
  )

  it.effect("a source ending mid-window ends the run after that window, without a trailing clip", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(12))
      const report = yield* runConversation({
        windowFrames: 5,
        initialPrompt: "Hi.",
        thinkingClip: clip,
      }).pipe(Effect.provide(world.layer))
      assert.deepStrictEqual(
        report.windows.map((w) => w.inputFrames),
        [5, 5, 2],
      )
      assert.strictEqual(world.written.length, 12 + 2 * clip.length)
      assert.strictEqual(report.status, "completed")
    }),
  )

  it.effect("a source ending exactly at a window boundary gets no switch after the last window", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(10))
      const report = yield* runConversation({
        windowFrames: 5,
        initialPrompt: "Hi.",
        thinkingClip: clip,
      }).pipe(Effect.provide(world.layer))
      assert.strictEqual(report.windows.length, 2)
      assert.strictEqual(report.switches.length, 1)
      assert.strictEqual(world.written.length, 10 + clip.length)
      assert.strictEqual(world.lm.prompts.length, 2)
    }),
  )

  it.effect("maxWindows and maxInputFrames cut the run", () =>
    Effect.gen(function* () {
      const a = fakeWorld(inputFrames(30))
      const byWindows = yield* runConversation({
        windowFrames: 5,
        initialPrompt: "Hi.",
        thinkingClip: clip,
        maxWindows: 2,
      }).pipe(Effect.provide(a.layer))
      assert.strictEqual(byWindows.windows.length, 2)
      assert.strictEqual(a.written.length, 10 + clip.length)

      const b = fakeWorld(inputFrames(30))
      const byFrames = yield* runConversation({
        windowFrames: 5,
        initialPrompt: "Hi.",
        thinkingClip: clip,
        maxInputFrames: 7,
      }).pipe(Effect.provide(b.layer))
      assert.strictEqual(byFrames.inputFrames, 7)
      assert.strictEqual(b.written.length, 7 + clip.length)
    }),
  )

  it.effect(
    "an empty source gives a completed run with no windows (only the initial prompt was injected)",
    () =>
      Effect.gen(function* () {
        const world = fakeWorld([])
        const report = yield* runConversation({
          windowFrames: 5,
          initialPrompt: "Hi.",
          thinkingClip: clip,
        }).pipe(Effect.provide(world.layer))
        assert.strictEqual(report.windows.length, 0)
        assert.strictEqual(world.lm.prompts.length, 1)
        assert.strictEqual(world.written.length, 0)
        assert.strictEqual(report.status, "completed")
      }),
  )

  it.effect("bad options fail with an error naming the field", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(3))
      const error = yield* runConversation({
        windowFrames: 0,
        initialPrompt: "Hi.",
        thinkingClip: clip,
      }).pipe(Effect.provide(world.layer), Effect.flip)
      assert.strictEqual(error._tag, "LoopOptionsError")
      assert.include(error.message, "windowFrames")

      const badClip = yield* runConversation({
        windowFrames: 2,
        initialPrompt: "Hi.",
        thinkingClip: [new Float32Array(100)],
      }).pipe(Effect.provide(world.layer), Effect.flip)
      assert.include(badClip.message, "thinkingClip: frame 0 has 100 samples, expected 1920")
    }),
  )
})
