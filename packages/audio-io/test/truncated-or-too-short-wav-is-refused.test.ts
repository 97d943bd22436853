import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import {
  AUDIO_FRAME_SIZE,
  AudioSource,
  AudioTooShortError,
  assets,
  decodeWav,
  encodeWav,
  readWav,
  TruncatedWavError,
} from "../src/index.ts"
import { sine, tempDir } from "./support/signals.ts"

const dir = tempDir("truncated")

describe("a WAV cut short is refused with TruncatedWavError", () => {
  it.effect("the shipped sample cut to 100 bytes names the file and both byte counts", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "cut.wav")
      fs.writeFileSync(file, fs.readFileSync(assets.helloWav).subarray(0, 100))
      const error = yield* Effect.flip(readWav(file))
      assert.instanceOf(error, TruncatedWavError)
      assert.strictEqual(error.path, file)
      assert.strictEqual(error.presentBytes, 100 - 44)
      assert.isAbove(error.declaredBytes, 100)
      assert.include(error.message, `${file} is truncated`)
      assert.include(error.message, `the file holds ${100 - 44}`)
    }),
  )

  it.effect("one byte missing is enough; the whole file still reads", () =>
    Effect.gen(function* () {
      const whole = encodeWav({ sampleRate: 24000, channels: [sine(440, 24000, 4000)] })
      assert.strictEqual((yield* decodeWav(whole, "whole.wav")).channels[0]!.length, 4000)
      const error = yield* Effect.flip(decodeWav(whole.subarray(0, whole.length - 1), "short.wav"))
      assert.strictEqual(error._tag, "TruncatedWavError")
      assert.include(error.message, "declares 8000 bytes of audio, the file holds 7999")
    }),
  )

  it.effect("a streaming placeholder size (0x7FFFF000) is an unknown length, not a truncation", () =>
    Effect.gen(function* () {
      const bytes = encodeWav({ sampleRate: 24000, channels: [sine(440, 24000, 300)] })
      new DataView(bytes.buffer).setUint32(40, 0x7fff_f000, true)
      assert.strictEqual((yield* decodeWav(bytes)).channels[0]!.length, 300)
    }),
  )
})

describe("AudioSource.wavFile needs at least one 80 ms frame", () => {
  it.effect("a valid WAV of 1000 samples fails with AudioTooShortError giving the counts", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "blip.wav")
      fs.writeFileSync(file, encodeWav({ sampleRate: 24000, channels: [sine(440, 24000, 1000)] }))
      const error = yield* Effect.flip(
        AudioSource.use((s) => Stream.runCollect(s.frames)).pipe(
          Effect.provide(AudioSource.wavFile(file, { pace: "fast" })),
        ),
      )
      assert.instanceOf(error, AudioTooShortError)
      assert.strictEqual(error.samples, 1000)
      assert.strictEqual(error.minimum, AUDIO_FRAME_SIZE)
      assert.include(
        error.message,
        `${file} holds 1000 samples at 24 kHz (41.7 ms), less than one 80 ms frame`,
      )
    }),
  )

  it.effect("one whole frame and a bit is two frames, the second zero-padded", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "frame-and-a-bit.wav")
      fs.writeFileSync(
        file,
        encodeWav({ sampleRate: 24000, channels: [sine(440, 24000, AUDIO_FRAME_SIZE + 10)] }),
      )
      const frames = yield* AudioSource.use((s) => Stream.runCollect(s.frames)).pipe(
        Effect.provide(AudioSource.wavFile(file, { pace: "fast" })),
      )
      assert.strictEqual(frames.length, 2)
    }),
  )
})
