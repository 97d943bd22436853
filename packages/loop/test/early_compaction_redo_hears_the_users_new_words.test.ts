/**
 * Early compaction with a Transcriber: what the user says after the early compaction took its
 * transcript counts towards a redo as the agent's words do, and the redo hears it. The agent only
 * pads here, so every new word is the user's. Windows of 25 frames; with 1 s expected, the early
 * compaction starts at frame 12 (960 ms). A realtime source under the TestClock, as a live user.
 */
import { assert, describe, it } from "@effect/vitest"
import { AudioSource } from "@personaplex/audio-io"
import { makeRng } from "@personaplex/runtime"
import { Transcriber } from "@personaplex/transcriber"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { LoopOptions } from "../src/options.ts"
import { runConversation } from "../src/runConversation.ts"
import { FRAME_SIZE } from "../src/services.ts"
import { constantFrame } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const TEXT_PAD = 3

/** 80 ms frames: quiet, or seeded noise at about −20 dBFS (speech to the transcriber's level gate). */
const framesOf = (plan: ReadonlyArray<readonly [speech: boolean, frames: number]>) => {
  const rng = makeRng(7)
  return plan.flatMap(([speech, n]) =>
    Array.from({ length: n }, () =>
      Float32Array.from({ length: FRAME_SIZE }, () => rng() * (speech ? 0.17 : 1e-4)),
    ),
  )
}

const options: LoopOptions = {
  windowFrames: 25,
  initialPrompt: "You take restaurant bookings.",
  thinkingClip: [constantFrame(-1)],
  earlyCompaction: { expectedMs: 1000 },
  pace: "realtime",
  maxWindows: 2,
}

/** The run over `plan` with the user's utterances recognized as `said`, in turn. */
const run = (plan: ReadonlyArray<readonly [boolean, number]>, said: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const frames = framesOf(plan)
    const world = fakeWorld(frames, {
      text: () => TEXT_PAD,
      source: AudioSource.fromFrames(frames, { pace: "realtime" }),
    })
    const transcriber = Transcriber.layerTest((i) => said[i] ?? "")
    const fiber = yield* runConversation(options).pipe(
      Effect.provide(Layer.merge(world.layer, transcriber)),
      Effect.forkChild,
    )
    for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("80 millis")
    return { report: yield* Fiber.join(fiber), compactions: world.compactions }
  })

describe("early compaction's redo with the user's side", () => {
  it.effect("the user's words after the early transcript make it be redone, on those words", () =>
    Effect.gen(function* () {
      // The user speaks frames 14-21, after the early compaction took the transcript (frame 12).
      const { report, compactions } = yield* run(
        [
          [false, 14],
          [true, 8],
          [false, 28],
        ],
        ["actually make that six people please"],
      )
      const [s] = report.switches
      assert.deepInclude(s!.compaction.early!, { newWords: 6, redone: true })
      const [early, redo] = compactions
      assert.strictEqual(early!.history[0]!.userText, "")
      // The redo builds on the early prompt.
      assert.strictEqual(
        redo!.previousPrompt,
        "<system> You take restaurant bookings. Summary after 1 windows. <system>",
      )
      assert.deepStrictEqual(redo!.history, [
        {
          index: 0,
          agentText: "",
          userText: "actually make that six people please",
          turns: [{ speaker: "user", text: "actually make that six people please" }],
        },
      ])
    }),
  )

  it.effect("words the early transcript already held, or a filler after it, leave the early prompt", () =>
    Effect.gen(function* () {
      // A whole sentence over frames 1-4 (recognized by frame 11), then "yes" over frames 16-18.
      const { report, compactions } = yield* run(
        [
          [false, 1],
          [true, 4],
          [false, 11],
          [true, 3],
          [false, 31],
        ],
        ["a table for four on friday evening", "yes"],
      )
      const [s] = report.switches
      assert.deepInclude(s!.compaction.early!, { newWords: 1, redone: false })
      assert.strictEqual(compactions.length, 1) // the early one, not redone
      assert.strictEqual(compactions[0]!.history[0]!.userText, "a table for four on friday evening")
      assert.strictEqual(report.windows[1]!.promptSource, "model")
    }),
  )
})
