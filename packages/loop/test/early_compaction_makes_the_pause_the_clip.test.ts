/**
 * Early compaction under the TestClock: a realtime source (one frame per 80 ms) and a compactor
 * that takes COMPACTION_MS; the thinking clip is two frames. A switch's pause counts until its
 * last clip frame is written (played from then on): 80 ms for this clip when nothing is waited for.
 */
import { assert, describe, it } from "@effect/vitest"
import { AudioSource } from "@personaplex/audio-io"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { LoopOptions } from "../src/options.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const COMPACTION_MS = 1000
const TEXT_PAD = 3
const WORD = 42

const options: LoopOptions = {
  windowFrames: 25,
  initialPrompt: "You are a patient teacher.",
  thinkingClip: [constantFrame(-1), constantFrame(-2)],
  pace: "realtime",
  maxWindows: 3,
}

/** Runs the loop on 100 paced frames, moving the TestClock 80 ms at a time until it ends. */
const runPaced = (
  loopOptions: LoopOptions,
  {
    compactionMs = COMPACTION_MS,
    text = () => TEXT_PAD,
  }: { compactionMs?: number; text?: (n: number) => number } = {},
) =>
  Effect.gen(function* () {
    const frames = inputFrames(100)
    const world = fakeWorld(frames, {
      text,
      compactor: { delayMs: compactionMs },
      source: AudioSource.fromFrames(frames, { pace: "realtime" }),
    })
    const fiber = yield* runConversation(loopOptions).pipe(Effect.provide(world.layer), Effect.forkChild)
    for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("80 millis")
    return { report: yield* Fiber.join(fiber), world }
  })

describe("early compaction", () => {
  it.effect("without it the pause is the compaction; with it, the clip", () =>
    Effect.gen(function* () {
      const clipOnly = (yield* runPaced(options, { compactionMs: 0 })).report.switches[0]!.pauseMs
      assert.closeTo(clipOnly, 80, 1e-6)
      const late = (yield* runPaced(options)).report
      for (const s of late.switches) {
        assert.closeTo(s.pauseMs, COMPACTION_MS, 1e-6)
        assert.closeTo(s.compactionWaitMs, COMPACTION_MS, 1e-6)
        assert.isUndefined(s.compaction.early)
      }

      const early = (yield* runPaced({ ...options, earlyCompaction: { expectedMs: COMPACTION_MS } })).report
      assert.strictEqual(early.switches.length, 2)
      for (const s of early.switches) {
        assert.closeTo(s.pauseMs, clipOnly, 1e-6)
        assert.strictEqual(s.silenceFrames, 0)
        assert.closeTo(s.compactionWaitMs, 0, 1e-6)
        // Started 13 frames (1040 ms of input) before the cut; the agent only padded since: no redo.
        assert.deepInclude(s.compaction.early!, { leadMs: 1040, newWords: 0, redone: false })
      }
      console.log(
        "pause ms, without / with early compaction:",
        late.switches.map((s) => s.pauseMs),
        early.switches.map((s) => s.pauseMs),
      )
    }),
  )

  it.effect("the expected time is learned: a low first guess costs one longer pause, then the clip", () =>
    Effect.gen(function* () {
      const { report } = yield* runPaced({ ...options, earlyCompaction: { expectedMs: 200 } })
      const [first, second] = report.switches
      // Guess 200 ms: started 3 frames (240 ms) before the cut; the switch itself starts once the
      // next input frame is in (80 ms later: the loop reads it to know the input goes on), so
      // 1000 − 240 − 80 = 680 ms of the pause is compaction.
      assert.strictEqual(first!.compaction.early!.leadMs, 240)
      assert.closeTo(first!.compactionWaitMs, COMPACTION_MS - 240 - 80, 1e-6)
      assert.closeTo(first!.pauseMs, COMPACTION_MS - 240 - 80, 1e-6)
      // Then the mean of what compactions took: 1000 ms, 13 frames ahead.
      assert.closeTo(second!.compaction.early!.expectedMs, COMPACTION_MS, 1e-6)
      assert.strictEqual(second!.compaction.early!.leadMs, 1040)
      assert.closeTo(second!.pauseMs, 80, 1e-6)
    }),
  )

  it.effect("words said after the early transcript are compacted again, on their own", () =>
    Effect.gen(function* () {
      // The agent speaks in its last 5 frames of each window (steps 21..25 after its prompt).
      const { report, world } = yield* runPaced(
        { ...options, earlyCompaction: { expectedMs: COMPACTION_MS } },
        { text: (n) => (n > 20 ? WORD : TEXT_PAD) },
      )
      const [s] = report.switches
      assert.deepInclude(s!.compaction.early!, { newWords: 5, redone: true, redoMs: COMPACTION_MS })
      assert.closeTo(s!.compaction.durationMs, 2 * COMPACTION_MS, 1e-6)
      // The redo waited for nothing but itself: the early one was done at the cut.
      assert.closeTo(s!.compactionWaitMs, COMPACTION_MS, 1e-6)
      assert.closeTo(s!.pauseMs, COMPACTION_MS, 1e-6)
      const [early, redo] = world.compactions
      assert.deepStrictEqual(
        early!.history.map((h) => h.agentText),
        [""],
      )
      assert.deepStrictEqual(redo!.history, [{ index: 0, agentText: report.windows[0]!.agentText }])
      assert.strictEqual(
        redo!.previousPrompt,
        "<system> You are a patient teacher. Summary after 1 windows. <system>",
      )
      assert.strictEqual(
        report.windows[1]!.prompt,
        "<system> You are a patient teacher. Summary after 1 windows. <system>",
      )
    }),
  )
})
