/**
 * The switch policy over speech made at test time: espeak-ng sentences with known gaps, heard by
 * the real Silero VAD layer, through the public loop (fake codec, LM and compactor: the agent's
 * text stream pads throughout, so only the user decides).
 */
import { assert, describe, it } from "@effect/vitest"
import { AUDIO_FRAME_SIZE, toFrames } from "@personaplex/audio-io"
import { OrtSession } from "@personaplex/runtime"
import {
  espeakMissing,
  type ScriptPart,
  type SpokenScript,
  speakScript,
  VoiceActivity,
} from "@personaplex/vad"
import { Effect, Layer } from "effect"
import type { SwitchPolicy } from "../src/options.ts"
import type { RunReport } from "../src/report.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const missing = espeakMissing()
if (missing) console.log(`skipping the switch-at-pauses tests: ${missing}`)

const WINDOW_FRAMES = 25 // 2 s
const PAUSE_MS = 400
const TEXT_PAD = 3

/** Short gaps (250 ms) inside turns, long ones (≥ 900 ms) between them. */
const conversation: ReadonlyArray<ScriptPart> = [
  { silenceMs: 200 },
  { say: "I would like to book a table for four people on Friday evening." },
  { silenceMs: 250 },
  { say: "Somewhere near the river, if that is possible." },
  { silenceMs: 900 },
  { say: "We will arrive at around eight o'clock." },
  { silenceMs: 1000 },
  { say: "One of us is vegetarian, so please keep that in mind." },
  { silenceMs: 250 },
  { say: "And we would love a table by the window." },
  { silenceMs: 1200 },
  { say: "Thank you very much." },
  { silenceMs: 600 },
]

/** Sentence after sentence with 150 ms breaths between: never a pause of 400 ms. */
const monologue: ReadonlyArray<ScriptPart> = [
  "Let me tell you about my trip to the mountains last summer.",
  "We walked for six hours on the first day and camped by a lake.",
  "The next morning it rained, so we stayed in the tent and played cards.",
  "On the third day the sun came back and we climbed to the top.",
  "From there you could see three countries and the whole valley below.",
].flatMap((say) => [{ say }, { silenceMs: 150 }])

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

/** Where each window ended in the input, in samples (the last window ends with the input: no cut). */
const cutsOf = (report: RunReport) => {
  let at = 0
  return report.windows.slice(0, -1).map((w) => {
    at += w.inputFrames
    return at * AUDIO_FRAME_SIZE
  })
}

const spanAt = (script: SpokenScript, sample: number) =>
  script.spans.find((s) => s.start <= sample && sample < s.end)!

const pause: SwitchPolicy = { mode: "pause", pauseMs: PAUSE_MS, maxWindowFrames: 100 }

describe.skipIf(missing)("switch: pause, on espeak-ng speech", () => {
  it.effect("every cut falls inside a gap of at least pause_ms, none inside a sentence", () =>
    Effect.gen(function* () {
      const script = yield* speakScript(conversation)
      const report = yield* run(script, pause)
      const cuts = cutsOf(report)
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
      const script = yield* speakScript(conversation)
      const report = yield* run(script, { mode: "fixed" })
      const cuts = cutsOf(report)
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
      const script = yield* speakScript(monologue)
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
