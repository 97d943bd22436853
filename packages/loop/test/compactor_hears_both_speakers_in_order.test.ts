import { assert, describe, it } from "@effect/vitest"
import { makeRng } from "@personaplex/runtime"
import { Transcriber } from "@personaplex/transcriber"
import { Effect, Layer } from "effect"
import { runConversation } from "../src/runConversation.ts"
import { FRAME_SIZE } from "../src/services.ts"
import { constantFrame } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const clip = [constantFrame(-1), constantFrame(-2)]

/** 80 ms frames: quiet, or seeded noise at about −20 dBFS (speech to the transcriber's level gate). */
const framesOf = (plan: ReadonlyArray<readonly [speech: boolean, frames: number]>) => {
  const rng = makeRng(5)
  return plan.flatMap(([speech, n]) =>
    Array.from({ length: n }, () =>
      Float32Array.from({ length: FRAME_SIZE }, () => rng() * (speech ? 0.17 : 1e-4)),
    ),
  )
}

// Three windows of 20 frames (1.6 s); the user speaks frames 5-14 (window 0) and 27-36 (window 1).
const input = () =>
  framesOf([
    [false, 5],
    [true, 10],
    [false, 12],
    [true, 10],
    [false, 23],
  ])

const options = { windowFrames: 20, initialPrompt: "You are Maya.", thinkingClip: clip }

describe("the compactor's input with a Transcriber", () => {
  it.effect("holds both speakers, labelled, in the order they spoke, window by window", () =>
    Effect.gen(function* () {
      const world = fakeWorld(input())
      const report = yield* runConversation(options).pipe(
        Effect.provide(Layer.merge(world.layer, Transcriber.layerTest())),
      )
      assert.strictEqual(world.compactions.length, 2)
      const [first, second] = world.compactions
      const speakers = (turns: ReadonlyArray<{ speaker: string }> | undefined) => turns?.map((t) => t.speaker)

      // Window 0: the agent's text before the user's utterance (lead-in from frame 3), then after it.
      const w0 = first!.history[0]!
      assert.deepStrictEqual(speakers(w0.turns), ["agent", "user", "agent"])
      assert.strictEqual(w0.turns![1]!.text, "utterance 0")
      assert.strictEqual(w0.userText, "utterance 0")
      assert.strictEqual(w0.turns![0]!.text + w0.turns![2]!.text, w0.agentText)

      // At the second switch: window 0 as before, window 1 with the second utterance.
      assert.deepStrictEqual(second!.history[0]!.turns, w0.turns)
      assert.deepStrictEqual(speakers(second!.history[1]!.turns), ["agent", "user", "agent"])
      assert.strictEqual(second!.history[1]!.userText, "utterance 1")

      // The report: each window's turns timed on the input, the transcript labelled in order.
      assert.deepStrictEqual(
        report.windows[0]!.turns!.filter((t) => t.speaker === "user").map((t) => [t.startMs, t.endMs]),
        [[240, 1280]],
      )
      const lines = report.transcript.split("\n")
      assert.deepStrictEqual(
        lines.map((l) => l.split(":")[0]),
        ["Agent", "User", "Agent", "Agent", "User", "Agent", "Agent"],
      )
      assert.strictEqual(lines[1], "User: utterance 0")
      assert.strictEqual(lines[4], "User: utterance 1")
      assert.deepStrictEqual(report.userTranscript, {
        family: "scripted",
        model: "layerTest",
        pieces: 2,
        failures: 0,
      })
    }),
  )

  it.effect("without a Transcriber, the input and the report are the agent's alone, as before", () =>
    Effect.gen(function* () {
      const world = fakeWorld(input())
      const report = yield* runConversation(options).pipe(Effect.provide(world.layer))
      assert.deepStrictEqual(
        world.compactions[1]!.history,
        report.windows.slice(0, 2).map((w) => ({ index: w.index, agentText: w.agentText })),
      )
      assert.strictEqual(report.transcript, report.windows.map((w) => w.agentText.trim()).join("\n"))
      assert.isUndefined(report.userTranscript)
      for (const w of report.windows) {
        assert.notProperty(w, "turns")
        assert.notProperty(w, "userText")
      }
    }),
  )
})
