/**
 * A six-frame thinking clip at the realtime pace under the TestClock, with `thinkingClipMinMs`:
 * once the next window is ready (early compaction done before the cut, the prompt injected), the
 * clip ends at the next frame boundary past its minimum, that frame fading out; otherwise it plays
 * in full as before.
 */
import { assert, describe, it } from "@effect/vitest"
import { AudioSource } from "@personaplex/audio-io"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { LoopOptions } from "../src/options.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const COMPACTION_MS = 400
const CLIP_VALUE = -0.5
const clip = Array.from({ length: 6 }, () => constantFrame(CLIP_VALUE))

const options: LoopOptions = {
  windowFrames: 25,
  initialPrompt: "You are a patient teacher.",
  thinkingClip: clip,
  pace: "realtime",
  maxWindows: 2,
}

const runPaced = (loopOptions: LoopOptions, pace: "realtime" | "fast" = "realtime") =>
  Effect.gen(function* () {
    const frames = inputFrames(60)
    const world = fakeWorld(frames, {
      text: () => 3,
      compactor: { delayMs: COMPACTION_MS },
      promptDelayMs: 100,
      source: AudioSource.fromFrames(frames, { pace }),
    })
    const fiber = yield* runConversation({ ...loopOptions, pace }).pipe(
      Effect.provide(world.layer),
      Effect.forkChild,
    )
    for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("80 millis")
    const report = yield* Fiber.join(fiber)
    // The switch's output: the frames written after the first window's 25.
    const switchOutput = world.written.slice(25, 25 + report.switches[0]!.clipFrames)
    return { report, switchOutput }
  })

describe("thinking clip cut short", () => {
  it.effect("with the next window ready, the clip stops past its minimum, its last frame fading out", () =>
    Effect.gen(function* () {
      const { report, switchOutput } = yield* runPaced({
        ...options,
        earlyCompaction: { expectedMs: 1000 },
        thinkingClipMinMs: 160,
      })
      const [s] = report.switches
      // Compaction done before the cut; the prompt (100 ms) is in by the slot at 160 ms: frames
      // 0 and 1 in full, frame 2 faded, then the next window.
      assert.strictEqual(s!.clipFrames, 3)
      assert.strictEqual(s!.clipCutShort, true)
      assert.strictEqual(s!.silenceFrames, 0)
      assert.closeTo(s!.pauseMs, 160, 1e-6)
      assert.deepStrictEqual(
        switchOutput.slice(0, 2).map((f) => [f[0], f.at(-1)]),
        [
          [CLIP_VALUE, CLIP_VALUE],
          [CLIP_VALUE, CLIP_VALUE],
        ],
      )
      const faded = switchOutput[2]!
      assert.strictEqual(faded[0], CLIP_VALUE)
      assert.closeTo(faded[960]!, CLIP_VALUE / 2, 1e-6)
      assert.closeTo(faded.at(-1)!, CLIP_VALUE / 1920, 1e-6)
      for (let i = 1; i < faded.length; i++) assert.isAtLeast(faded[i]!, faded[i - 1]!)
    }),
  )

  it.effect("a compaction still running past the minimum lets the clip play on, in full", () =>
    Effect.gen(function* () {
      // No early compaction: 400 ms of compaction and 100 ms of prompt outlast the 6 frames (480 ms).
      const { report, switchOutput } = yield* runPaced({ ...options, thinkingClipMinMs: 160 })
      const [s] = report.switches
      assert.strictEqual(s!.clipFrames, 6)
      assert.isUndefined(s!.clipCutShort)
      assert.strictEqual(s!.silenceFrames, 1)
      assert.closeTo(s!.pauseMs, COMPACTION_MS + 100, 1e-6)
      for (const f of switchOutput) assert.isTrue(f.every((x) => x === CLIP_VALUE))
    }),
  )

  it.effect("without the option, or at the fast pace, the whole clip plays as before", () =>
    Effect.gen(function* () {
      const whole = (yield* runPaced({ ...options, earlyCompaction: { expectedMs: 1000 } })).report
      assert.strictEqual(whole.switches[0]!.clipFrames, 6)
      assert.closeTo(whole.switches[0]!.pauseMs, 400, 1e-6)
      const fast = (yield* runPaced(
        { ...options, earlyCompaction: { expectedMs: 1000 }, thinkingClipMinMs: 0 },
        "fast",
      )).report
      assert.strictEqual(fast.switches[0]!.clipFrames, 6)
      assert.isUndefined(fast.switches[0]!.clipCutShort)
    }),
  )

  it.effect(
    "a minimum of a part frame counts the whole frame; a negative one is refused, naming the field",
    () =>
      Effect.gen(function* () {
        const { report } = yield* runPaced({
          ...options,
          earlyCompaction: { expectedMs: 1000 },
          thinkingClipMinMs: 90,
        })
        assert.strictEqual(report.switches[0]!.clipFrames, 3)
        const error = yield* Effect.flip(runPaced({ ...options, thinkingClipMinMs: -1 }))
        assert.strictEqual(error._tag, "LoopOptionsError")
        assert.include(error.message, "thinkingClipMinMs")
      }),
  )
})
