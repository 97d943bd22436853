import { assert, describe, it } from "@effect/vitest"
import { VoiceActivity } from "@personaplex/vad"
import { Effect, Layer } from "effect"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const TEXT_PAD = 3
const WORD = 42

/** The user speaks for `speaking` frames (−20 dBFS), then is silent, `total` frames in all. */
const userFrames = (speaking: number, total: number) =>
  Array.from({ length: total }, (_, i) => (i < speaking ? constantFrame(0.1) : constantFrame(0)))

const options = {
  windowFrames: 8,
  initialPrompt: "Hi.",
  thinkingClip: [constantFrame(-1)],
  switchPolicy: { mode: "pause", pauseMs: 400, maxWindowFrames: 30 },
  maxWindows: 2,
} as const

describe("switch: pause waits for both sides", () => {
  it.effect("the user's silence alone does not cut while the agent is mid-word", () =>
    Effect.gen(function* () {
      // The user stops after frame 10; the agent says words until its 15th step, then pads.
      const world = fakeWorld(userFrames(10, 40), { text: (n) => (n <= 15 ? WORD : TEXT_PAD) })
      const report = yield* runConversation(options).pipe(
        Effect.provide(Layer.merge(world.layer, VoiceActivity.energy())),
      )
      const [s] = report.switches
      // Agent padding from frame 16 on: 5 frames (400 ms) of it after frame 20.
      assert.strictEqual(report.windows[0]!.inputFrames, 20)
      assert.strictEqual(s!.reason, "pause")
      assert.strictEqual(s!.userSilentMs, 800)
      assert.strictEqual(s!.agentSilentMs, 400)
    }),
  )

  it.effect("no cut before the window's duration, however quiet both sides are", () =>
    Effect.gen(function* () {
      const world = fakeWorld(userFrames(0, 40), { text: () => TEXT_PAD })
      const report = yield* runConversation(options).pipe(
        Effect.provide(Layer.merge(world.layer, VoiceActivity.energy())),
      )
      assert.strictEqual(report.windows[0]!.inputFrames, 8)
      assert.strictEqual(report.switches[0]!.reason, "pause")
    }),
  )

  it.effect("switch: pause without a VoiceActivity layer is refused, naming the field", () =>
    Effect.gen(function* () {
      const world = fakeWorld(userFrames(0, 10))
      const error = yield* Effect.flip(runConversation(options).pipe(Effect.provide(world.layer)))
      assert.strictEqual(error._tag, "LoopOptionsError")
      assert.include(error.message, "VoiceActivity")
    }),
  )

  it.effect("a max window shorter than the window is refused", () =>
    Effect.gen(function* () {
      const world = fakeWorld(userFrames(0, 10))
      const error = yield* Effect.flip(
        runConversation({ ...options, switchPolicy: { mode: "pause", maxWindowFrames: 4 } }).pipe(
          Effect.provide(Layer.merge(world.layer, VoiceActivity.energy())),
        ),
      )
      assert.strictEqual(error._tag, "LoopOptionsError")
      assert.include(error.message, "maxWindowFrames")
    }),
  )
})
