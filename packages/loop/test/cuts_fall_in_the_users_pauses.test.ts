/**
 * The switch policy over speech made at test time: espeak-ng sentences with known gaps, heard by
 * the real Silero VAD layer, through the public loop (fake codec, LM and compactor: the agent's
 * text stream pads throughout, so only the user decides).
 */
import { assert, describe, it } from "@effect/vitest"
import { AUDIO_FRAME_SIZE, toFrames } from "@personaplex/audio-io"
import { OrtSession } from "@personaplex/runtime"
import {
  bookingConversation,
  espeakMissing,
  type SpokenScript,
  spanAt,
  speakScript,
  unbrokenMonologue,
  VoiceActivity,
  windowCuts,
} from "@personaplex/vad"
import { Effect, Layer } from "effect"
import type { SwitchPolicy } from "../src/options.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const missing = espeakMissing()
if (missing) console.log(`skipping the switch-at-pauses tests: ${missing}`)

const WINDOW_FRAMES = 25 // 2 s
const PAUSE_MS = 400
const TEXT_PAD = 3

const run = (script: SpokenScript, switchPolicy: SwitchPolicy) => {
  const world = fakeWorld(toFrames(script.samples), { text: () => TEXT_PAD })
  const vad = VoiceActivity.silero().pipe(Layer.provide(OrtSession.layerCpu))
  return runConversation({
    windowFrames: WINDOW_FRAMES,
    initialPrompt: "You take restaurant bookings.",
    thinkingClip: [constantFrame(-1)],
    switchPolicy,
  }).pipe(Effect.provide(Layer.merge(world.layer, vad)))
}

const pause: SwitchPolicy = { mode: "pause", pauseMs: PAUSE_MS, maxWindowFrames: 100 }

describe.skipIf(missing)("switch: pause, on espeak-ng speech", () => {
  it.effect("every cut falls inside a gap of at least pause_ms, none inside a sentence", () =>
    Effect.gen(function* () {
      const script = yield* speakScript(bookingConversation)
      const report = yield* run(script, pause)
      const cuts = windowCuts(report.windows)
      console.log(
        "pause cuts (s):",
        cuts.map((c) => (c / 24000).toFixed(2)),
        "user silent (ms):",
        report.switches.map((s) => s.userSilentMs),
      )
      assert.isAtLeast(cuts.length, 3)
      for (const cut of cuts) {
        const span = spanAt(script, cut)
        assert.strictEqual(span.kind, "silence", `cut at ${cut / 24000} s is inside "${span.text}"`)
        assert.isAtLeast(((span.end - span.start) / 24000) * 1000, PAUSE_MS, `gap around ${cut / 24000} s`)
      }
      for (const s of report.switches) {
        assert.strictEqual(s.reason, "pause")
        assert.isAtLeast(s.userSilentMs!, PAUSE_MS)
        assert.isAtLeast(s.agentSilentMs, PAUSE_MS)
      }
      // Every window ran at least its duration.
      for (const w of report.windows.slice(0, -1)) assert.isAtLeast(w.inputFrames, WINDOW_FRAMES)
      assert.strictEqual(report.meta.voiceActivity, "silero-v5")
    }),
  )

  it.effect("switch: fixed cuts where it always did, every duration, sentences or not", () =>
    Effect.gen(function* () {
      const script = yield* speakScript(bookingConversation)
      const report = yield* run(script, { mode: "fixed" })
      const cuts = windowCuts(report.windows)
      assert.deepStrictEqual(
        cuts,
        cuts.map((_, i) => (i + 1) * WINDOW_FRAMES * AUDIO_FRAME_SIZE),
      )
      for (const s of report.switches) assert.strictEqual(s.reason, "duration")
      // The same speech cut blindly: some cuts land inside sentences (what `pause` avoids).
      assert.isTrue(cuts.some((cut) => spanAt(script, cut).kind === "speech"))
    }),
  )

  it.effect("a user who never pauses is cut at max_duration", () =>
    Effect.gen(function* () {
      const script = yield* speakScript(unbrokenMonologue)
      const report = yield* run(script, { mode: "pause", pauseMs: PAUSE_MS, maxWindowFrames: 50 })
      assert.isAtLeast(report.switches.length, 2)
      for (const s of report.switches) {
        assert.strictEqual(s.reason, "max_duration")
        assert.isBelow(s.userSilentMs!, PAUSE_MS)
      }
      for (const w of report.windows.slice(0, -1)) assert.strictEqual(w.inputFrames, 50)
    }),
  )
})
