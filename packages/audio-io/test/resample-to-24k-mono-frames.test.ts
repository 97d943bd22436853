import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, Stream } from "effect"
import {
  AUDIO_FRAME_SIZE,
  type AudioError,
  AudioSource,
  concatFrames,
  downmix,
  resample,
  resampledLength,
  toFrames,
  writeWav,
} from "../src/index.ts"
import { goertzelAmplitude, maxAbsDiff, sine, tempDir, zeroCrossingRate } from "./support/signals.ts"

const dir = tempDir("resample")

const collect = (layer: Layer.Layer<AudioSource, AudioError>) =>
  AudioSource.use((source) => Stream.runCollect(source.frames)).pipe(Effect.provide(layer))

describe("48 kHz stereo WAV in, 24 kHz mono frames out", () => {
  it.effect("frame count, downmix, a 440 Hz sine's frequency and the zero-padded last frame", () =>
    Effect.gen(function* () {
      // 1.05 s at 48 kHz: 25200 samples at 24 kHz = 13 full frames + 240 samples.
      const n = 50400
      const left = sine(440, 48000, n, 0.6)
      const right = sine(440, 48000, n, 0.2)
      const file = path.join(dir, "stereo48k.wav")
      yield* writeWav(file, { sampleRate: 48000, channels: [left, right] }, { encoding: "float32" })

      const frames = yield* collect(AudioSource.wavFile(file, { pace: "fast" }))
      assert.strictEqual(frames.length, Math.ceil(25200 / AUDIO_FRAME_SIZE))
      assert.strictEqual(frames.length, 14)
      for (const frame of frames) assert.strictEqual(frame.length, AUDIO_FRAME_SIZE)

      const mono = concatFrames(frames)
      const signal = mono.subarray(0, 25200)
      // Mono is the channel average: amplitude (0.6 + 0.2) / 2 = 0.4, still at 440 Hz.
      const body = signal.subarray(480, 24720) // away from the filter's edges
      assert.approximately(goertzelAmplitude(body, 440, 24000), 0.4, 0.01)
      assert.isBelow(goertzelAmplitude(body, 880, 24000), 0.005)
      assert.isBelow(goertzelAmplitude(body, 220, 24000), 0.005)
      assert.approximately(zeroCrossingRate(body, 24000), 440, 3)
      // And it is the same sine, in phase, sample by sample.
      assert.isBelow(maxAbsDiff(body, sine(440, 24000, 25200, 0.4).subarray(480, 24720)), 1e-3)

      const last = frames[13]!
      assert.isAbove(Math.max(...last.subarray(0, 200).map(Math.abs)), 0.1)
      assert.deepStrictEqual(Array.from(last.subarray(240)), new Array(AUDIO_FRAME_SIZE - 240).fill(0))
    }),
  )

  it.effect("a file's frames replay on every run and cannot be altered through an emitted frame", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "replay.wav")
      yield* writeWav(file, { sampleRate: 24000, channels: [sine(300, 24000, 4000)] })
      const layer = AudioSource.wavFile(file, { pace: "fast" })
      const first = yield* collect(layer)
      first[0]!.fill(9)
      const second = yield* collect(layer)
      assert.strictEqual(second.length, 3)
      assert.isBelow(Math.max(...second[0]!), 1)
    }),
  )

  it.effect("a missing file fails the layer with AudioFileNotFoundError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(collect(AudioSource.wavFile(path.join(dir, "missing.wav"))))
      assert.strictEqual(error._tag, "AudioFileNotFoundError")
    }),
  )
})

describe("resample", () => {
  it.effect("output length is exactly round(n * to / from) for awkward rates and lengths", () =>
    Effect.gen(function* () {
      for (const [from, n] of [
        [44100, 44100],
        [44100, 12345],
        [22050, 7],
        [16000, 16001],
        [8000, 1],
        [96000, 96001],
        [11025, 30000],
      ] as const) {
        const out = yield* resample(sine(200, from, n), from, 24000)
        assert.strictEqual(out.length, resampledLength(n, from, 24000), `${from} Hz, ${n} samples`)
      }
    }),
  )

  it.effect("upsampling 16 kHz keeps a 1 kHz tone at its frequency and level, up to the signal's end", () =>
    Effect.gen(function* () {
      const out = yield* resample(sine(1000, 16000, 16000, 0.5), 16000, 24000)
      assert.strictEqual(out.length, 24000)
      const expected = sine(1000, 24000, 24000, 0.5)
      // The converter's held-back tail is flushed: the last 10 ms match too, not just the middle.
      assert.isBelow(maxAbsDiff(out.subarray(200, 23760), expected.subarray(200, 23760)), 1e-3)
      assert.approximately(goertzelAmplitude(out.subarray(23040, 23760), 1000, 24000), 0.5, 0.02)
    }),
  )

  it.effect("same rate returns the input untouched; a bad rate is a typed ResampleError", () =>
    Effect.gen(function* () {
      const x = sine(100, 24000, 100)
      assert.strictEqual(yield* resample(x, 24000, 24000), x)
      const error = yield* Effect.flip(resample(x, 0, 24000))
      assert.strictEqual(error._tag, "ResampleError")
    }),
  )
})

describe("framing", () => {
  it("toFrames pads the last frame with zeros and concatFrames undoes it", () => {
    const x = Float32Array.from({ length: 1920 * 2 + 5 }, (_, i) => i + 1)
    const frames = toFrames(x)
    assert.strictEqual(frames.length, 3)
    assert.deepStrictEqual(Array.from(frames[2]!.subarray(0, 5)), [3841, 3842, 3843, 3844, 3845])
    assert.strictEqual(
      frames[2]!.subarray(5).every((v) => v === 0),
      true,
    )
    assert.deepStrictEqual(concatFrames(frames).subarray(0, x.length), x)
    assert.strictEqual(toFrames(new Float32Array(3840)).length, 2)
    assert.strictEqual(toFrames(new Float32Array(0)).length, 0)
  })

  it("downmix averages channels", () => {
    assert.deepStrictEqual(
      Array.from(downmix([Float32Array.from([1, 0.5]), Float32Array.from([0, -0.5])])),
      [0.5, 0],
    )
  })
})
