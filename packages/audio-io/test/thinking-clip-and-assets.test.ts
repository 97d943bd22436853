import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import {
  AUDIO_FRAME_SIZE,
  AudioSource,
  assets,
  concatFrames,
  loadMono24k,
  loadThinkingClip,
  readWav,
  resampledLength,
  writeWav,
} from "../src/index.ts"
import { rms, tempDir } from "./support/signals.ts"

const dir = tempDir("clip")

const espeakMissing = (() => {
  try {
    execFileSync("espeak-ng", ["--version"], { stdio: "ignore" })
    return undefined
  } catch {
    return "espeak-ng is not installed (apt-get install -y espeak-ng)"
  }
})()
if (espeakMissing) console.log(`skipping the espeak-ng test: ${espeakMissing}`)

describe("shipped assets", () => {
  it.effect("hello.wav and thinking.wav are small 24 kHz mono PCM16 speech files", () =>
    Effect.gen(function* () {
      for (const file of [assets.helloWav, assets.thinkingWav]) {
        const bytes = fs.readFileSync(file)
        assert.isBelow(bytes.length, 300_000, file)
        assert.strictEqual(bytes.readUInt16LE(20), 1, `${file}: PCM`)
        assert.strictEqual(bytes.readUInt16LE(34), 16, `${file}: 16-bit`)
        const audio = yield* readWav(file)
        assert.strictEqual(audio.sampleRate, 24000)
        assert.strictEqual(audio.channels.length, 1)
        assert.isAbove(rms(audio.channels[0]!), 0.02, `${file} holds sound`)
      }
      const hello = yield* readWav(assets.helloWav)
      assert.isAbove(hello.channels[0]!.length / 24000, 2)
    }),
  )
})

describe("loadThinkingClip", () => {
  it.effect(
    "frames the shipped clip: ceil(n / 1920) frames, the samples in order, the last frame zero-padded",
    () =>
      Effect.gen(function* () {
        const samples = yield* loadMono24k(assets.thinkingWav)
        const frames = yield* loadThinkingClip(assets.thinkingWav)
        assert.strictEqual(frames.length, Math.ceil(samples.length / AUDIO_FRAME_SIZE))
        for (const frame of frames) assert.strictEqual(frame.length, AUDIO_FRAME_SIZE)
        const joined = concatFrames(frames)
        assert.deepStrictEqual(joined.subarray(0, samples.length), samples)
        const tail = samples.length % AUDIO_FRAME_SIZE
        if (tail > 0)
          assert.isTrue(
            frames
              .at(-1)!
              .subarray(tail)
              .every((v) => v === 0),
          )
      }),
  )

  it.effect("resamples a 16 kHz stereo clip: 1.5 s gives 36000 samples in 19 frames", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "clip16k.wav")
      const tone = Float32Array.from(
        { length: 24000 },
        (_, i) => 0.3 * Math.sin((2 * Math.PI * 300 * i) / 16000),
      )
      yield* writeWav(file, { sampleRate: 16000, channels: [tone, tone] })
      const frames = yield* loadThinkingClip(file)
      assert.strictEqual(frames.length, 19) // 36000 / 1920 = 18.75
      assert.isTrue(frames[18]!.subarray(1440).every((v) => v === 0))
      assert.isAbove(Math.max(...frames[18]!.subarray(0, 1400)), 0.25)
    }),
  )

  it.effect("a missing clip is AudioFileNotFoundError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadThinkingClip(path.join(dir, "absent.wav")))
      assert.strictEqual(error._tag, "AudioFileNotFoundError")
    }),
  )
})

describe("spoken input made by espeak-ng", () => {
  it.effect.skipIf(espeakMissing)("a 22.05 kHz espeak-ng WAV becomes 24 kHz frames of speech", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "spoken.wav")
      execFileSync("espeak-ng", ["-w", file, "Testing one two three."])
      const raw = yield* readWav(file)
      const n = resampledLength(raw.channels[0]!.length, raw.sampleRate, 24000)
      const frames = yield* AudioSource.use((s) => Stream.runCollect(s.frames)).pipe(
        Effect.provide(AudioSource.wavFile(file, { pace: "fast" })),
      )
      assert.strictEqual(frames.length, Math.ceil(n / AUDIO_FRAME_SIZE))
      // Speech energy survives resampling (same RMS within 5 %).
      assert.approximately(rms(concatFrames(frames).subarray(0, n)) / rms(raw.channels[0]!), 1, 0.05)
    }),
  )
})
