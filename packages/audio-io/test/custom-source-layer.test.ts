import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import {
  AUDIO_FRAME_SIZE,
  AUDIO_SAMPLE_RATE,
  AudioSink,
  AudioSource,
  paced,
  readWav,
  writeAll,
} from "../src/index.ts"
import { goertzelAmplitude, tempDir } from "./support/signals.ts"

// The README's example of swapping in a custom source, kept compiling and working here.
const tone = (hz: number, seconds: number) =>
  Stream.range(0, Math.ceil((seconds * AUDIO_SAMPLE_RATE) / AUDIO_FRAME_SIZE) - 1).pipe(
    Stream.map((frame) =>
      Float32Array.from(
        { length: AUDIO_FRAME_SIZE },
        (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * (frame * AUDIO_FRAME_SIZE + i)) / AUDIO_SAMPLE_RATE),
      ),
    ),
  )

const ToneSource: Layer.Layer<AudioSource> = Layer.succeed(
  AudioSource,
  AudioSource.of({ frames: paced(tone(440, 1), "fast") }),
)

describe("a custom AudioSource layer", () => {
  it.effect("replaces the file source without changes in the consumer", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir("custom"), "tone.wav")
      const copy = Effect.gen(function* () {
        const source = yield* AudioSource
        yield* writeAll(source.frames)
        return yield* AudioSink.use((sink) => sink.framesWritten)
      })
      const written = yield* copy.pipe(Effect.provide([ToneSource, AudioSink.wavFile(file)]))
      assert.strictEqual(written, 13) // ceil(24000 / 1920)
      const back = (yield* readWav(file)).channels[0]!
      assert.approximately(goertzelAmplitude(back.subarray(0, 24000), 440, AUDIO_SAMPLE_RATE), 0.3, 0.01)
      // And the consumer is the same one that reads files.
      const again = yield* copy.pipe(
        Effect.provide([AudioSource.wavFile(file, { pace: "fast" }), AudioSink.memory()]),
      )
      assert.strictEqual(again, 13)
    }),
  )
})
