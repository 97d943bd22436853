import { assert, describe, it } from "@effect/vitest"
import { AUDIO_FRAME_SIZE, toFrames } from "@personaplex/audio-io"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { espeakMissing, type FrameActivity, speakScript, VoiceActivity } from "../src/index.ts"

const missing = espeakMissing()
if (missing) console.log(`skipping the Silero speech tests: ${missing}`)

const silero = (version: "v5" | "v6" = "v5") =>
  VoiceActivity.silero({ version }).pipe(Layer.provide(OrtSession.layerCpu))

const hear = (samples: Float32Array) =>
  VoiceActivity.use((vad) => Effect.forEach(toFrames(samples), (frame) => vad.push(frame)))

/** The frames wholly inside samples [start, end). */
const framesWithin = (activity: ReadonlyArray<FrameActivity>, start: number, end: number) =>
  activity.slice(Math.ceil(start / AUDIO_FRAME_SIZE), Math.floor(end / AUDIO_FRAME_SIZE))

const speechShare = (frames: ReadonlyArray<FrameActivity>) =>
  frames.filter((a) => a.speech).length / frames.length

/** Hysteresis and the model's own memory carry speech a little past its end. */
const HANGOVER_SAMPLES = 0.3 * 24000

const twoSentences = [
  { silenceMs: 1000 },
  { say: "The quick brown fox jumps over the lazy dog." },
  { silenceMs: 1200 },
  { say: "Please call me back tomorrow morning." },
  { silenceMs: 1000 },
]

describe("Silero VAD on speech made by espeak-ng", () => {
  for (const version of ["v5", "v6"] as const)
    it.effect.skipIf(missing)(`${version}: the sentences are speech, the silences around them are not`, () =>
      Effect.gen(function* () {
        const script = yield* speakScript(twoSentences)
        const activity = yield* hear(script.samples)
        console.log(`silero ${version}:`, activity.map((a) => (a.speech ? "S" : ".")).join(""))
        for (const span of script.spans) {
          if (span.kind === "speech")
            assert.isAbove(speechShare(framesWithin(activity, span.start, span.end)), 0.8, span.text)
          else
            assert.strictEqual(
              speechShare(framesWithin(activity, span.start + HANGOVER_SAMPLES, span.end)),
              0,
              `silence at ${span.start}`,
            )
        }
      }).pipe(Effect.provide(silero(version))),
    )

  it.effect.skipIf(missing)("after reset the detector hears a stream as a fresh one does", () =>
    Effect.gen(function* () {
      const script = yield* speakScript(twoSentences)
      const fresh = yield* hear(script.samples)
      const again = yield* Effect.gen(function* () {
        yield* hear(script.samples.subarray(0, 40 * AUDIO_FRAME_SIZE))
        yield* VoiceActivity.use((vad) => vad.reset)
        return yield* hear(script.samples)
      }).pipe(Effect.provide(silero()))
      assert.deepStrictEqual(
        again.map((a) => a.probability),
        fresh.map((a) => a.probability),
      )
    }).pipe(Effect.provide(silero())),
  )
})

describe("Silero VAD on what is not speech", () => {
  it.effect("a steady tone and low noise are not speech", () =>
    Effect.gen(function* () {
      const tone = Float32Array.from(
        { length: 24000 },
        (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 24000),
      )
      let seed = 7
      const noise = Float32Array.from({ length: 24000 }, () => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return 0.01 * (seed / 1073741824 - 1)
      })
      const activity = yield* hear(Float32Array.from([...tone, ...noise]))
      assert.strictEqual(speechShare(activity), 0)
    }).pipe(Effect.provide(silero())),
  )

  it.effect("a frame of the wrong length fails with a VoiceActivityError naming the length", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(VoiceActivity.use((vad) => vad.push(new Float32Array(1000))))
      assert.strictEqual(error._tag, "VoiceActivityError")
      assert.include(error.message, "1920")
      assert.include(error.message, "1000")
    }).pipe(Effect.provide(silero())),
  )
})
