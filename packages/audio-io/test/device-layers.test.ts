import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import { loadDeviceSupportFrom } from "../src/devices.ts"
import { AUDIO_FRAME_SIZE, type AudioError, AudioSink, AudioSource, listAudioDevices } from "../src/index.ts"

// Real devices are optional: each test tries the real path first and is skipped, with the reason
// printed, where this machine has no audio support or no device (headless CI).
const reasonWhyNot = async <A>(layer: Layer.Layer<A, AudioError>) => {
  const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(layer)))
  if (Exit.isSuccess(exit)) return undefined
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return error && error._tag === "Fail" ? error.error.message : String(exit.cause)
}

const noMicrophone = await reasonWhyNot(AudioSource.microphone())
const noSpeaker = await reasonWhyNot(AudioSink.speaker())
const noSupport = await reasonWhyNot(Layer.effectDiscard(listAudioDevices))
const noNullInput = noSupport ?? (await reasonWhyNot(AudioSource.microphone({ allowNullDevice: true })))
const noClockedSink = noSupport ?? (await reasonWhyNot(AudioSink.speaker({ deviceId: "none" })))
for (const [what, reason] of [
  ["default microphone", noMicrophone],
  ["default speaker", noSpeaker],
  ["device support", noSupport],
  ["ALSA null input", noNullInput],
  ["clocked null output", noClockedSink],
] as const)
  if (reason) console.log(`skipping ${what} test: ${reason}`)

const capture = (layer: Layer.Layer<AudioSource, unknown>, frames: number) =>
  AudioSource.use((source) => Stream.runCollect(Stream.take(source.frames, frames))).pipe(
    Effect.provide(layer),
  )

describe("real audio devices (node-web-audio-api, optional)", () => {
  it.live.skipIf(noMicrophone)("the default microphone delivers 1920-sample frames", () =>
    Effect.gen(function* () {
      const frames = yield* capture(AudioSource.microphone(), 3)
      assert.strictEqual(frames.length, 3)
      for (const frame of frames) assert.strictEqual(frame.length, AUDIO_FRAME_SIZE)
    }),
  )

  it.live.skipIf(noSpeaker)("the default speaker accepts frames and closes cleanly", () =>
    Effect.gen(function* () {
      const written = yield* AudioSink.use((sink) =>
        Effect.andThen(
          Effect.repeat(sink.write(new Float32Array(AUDIO_FRAME_SIZE)), { times: 2 }),
          sink.framesWritten,
        ),
      ).pipe(Effect.provide(AudioSink.speaker()))
      assert.strictEqual(written, 3)
    }),
  )

  it.live.skipIf(noNullInput)("capture plumbing: ALSA's null input yields silent 24 kHz frames", () =>
    Effect.gen(function* () {
      const frames = yield* capture(AudioSource.microphone({ allowNullDevice: true }), 3)
      assert.strictEqual(frames.length, 3)
      for (const frame of frames) {
        assert.strictEqual(frame.length, AUDIO_FRAME_SIZE)
        assert.isTrue(frame.every((v) => v === 0))
      }
    }),
  )

  it.live.skipIf(noClockedSink)(
    "playback plumbing: the clocked no-device sink plays frames and refuses bad lengths",
    () =>
      Effect.gen(function* () {
        const tone = Float32Array.from({ length: AUDIO_FRAME_SIZE }, (_, i) => 0.1 * Math.sin(i / 10))
        const written = yield* AudioSink.use((sink) =>
          Effect.andThen(Effect.repeat(sink.write(tone), { times: 4 }), sink.framesWritten),
        ).pipe(Effect.provide(AudioSink.speaker({ deviceId: "none" })))
        assert.strictEqual(written, 5)
        const wrong = yield* Effect.flip(
          AudioSink.use((sink) => sink.write(new Float32Array(100))).pipe(
            Effect.provide(AudioSink.speaker({ deviceId: "none" })),
          ),
        )
        assert.strictEqual(wrong._tag, "FrameLengthError")
      }),
  )

  it.live.skipIf(noSupport)(
    "an unknown microphone id is AudioDeviceUnavailableError listing the inputs",
    () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(capture(AudioSource.microphone({ deviceId: "no-such-device" }), 1))
        assert.strictEqual((error as { _tag: string })._tag, "AudioDeviceUnavailableError")
        assert.include((error as Error).message, "no-such-device")
      }),
  )
})

describe("device errors without device support", () => {
  it.effect("a package that cannot be loaded is AudioDeviceSupportMissingError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadDeviceSupportFrom("@personaplex/no-such-audio-package"))
      assert.strictEqual(error._tag, "AudioDeviceSupportMissingError")
      assert.include(error.message, "no audio device support installed/available")
    }),
  )

  it.effect(
    "a speaker asked for 48 kHz frames is SampleRateMismatchError (before any device is opened)",
    () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          AudioSink.use((s) => s.framesWritten).pipe(
            Effect.provide(AudioSink.speaker({ sampleRate: 48000 })),
          ),
        )
        assert.strictEqual(error._tag, "SampleRateMismatchError")
      }),
  )
})
