import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, type Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  AUDIO_FRAME_SIZE,
  AudioSink,
  AudioSource,
  FrameLengthError,
  MemorySink,
  paced,
  readWav,
  writeAll,
} from "../src/index.ts"
import { tempDir } from "./support/signals.ts"

const dir = tempDir("sinks")

/** Frame i is filled with the value (i + 1) / 100, so a file's contents show which frames it holds. */
const numbered = (count: number) =>
  Array.from({ length: count }, (_, i) => new Float32Array(AUDIO_FRAME_SIZE).fill((i + 1) / 100))

const frameValues = (samples: Float32Array) =>
  Array.from({ length: samples.length / AUDIO_FRAME_SIZE }, (_, i) =>
    Math.round(samples[i * AUDIO_FRAME_SIZE]! * 100),
  )

describe("AudioSink.wavFile keeps a valid WAV on disk", () => {
  it.effect("after the fiber writing into it is interrupted mid-stream", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "interrupted.wav")
      const source = paced(Stream.fromIterable(numbered(100)), "realtime")
      const fiber = yield* writeAll(source).pipe(Effect.provide(AudioSink.wavFile(file)), Effect.forkChild)
      yield* TestClock.adjust("400 millis") // 5 frames
      // Valid while still open: the header is rewritten after every frame.
      const during = yield* readWav(file)
      assert.deepStrictEqual(frameValues(during.channels[0]!), [1, 2, 3, 4, 5])
      yield* TestClock.adjust("160 millis")
      yield* Fiber.interrupt(fiber)
      const after = yield* readWav(file)
      assert.strictEqual(after.sampleRate, 24000)
      assert.strictEqual(after.channels.length, 1)
      assert.deepStrictEqual(frameValues(after.channels[0]!), [1, 2, 3, 4, 5, 6, 7])
      const bytes = fs.readFileSync(file)
      assert.strictEqual(bytes.length, 44 + 7 * AUDIO_FRAME_SIZE * 2)
      assert.strictEqual(bytes.readUInt32LE(4), bytes.length - 8)
      assert.strictEqual(bytes.readUInt32LE(40), 7 * AUDIO_FRAME_SIZE * 2)
    }),
  )

  it.effect("after the stream feeding it fails", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "failed.wav")
      const failing = Stream.concat(
        Stream.fromIterable(numbered(3)),
        Stream.fail("microphone unplugged" as const),
      )
      const error = yield* Effect.flip(writeAll(failing).pipe(Effect.provide(AudioSink.wavFile(file))))
      assert.strictEqual(error, "microphone unplugged")
      assert.deepStrictEqual(frameValues((yield* readWav(file)).channels[0]!), [1, 2, 3])
    }),
  )

  it.effect("in float32, bit-exact, with the count of frames written", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "float.wav")
      const frames = numbered(4).map((f, i) => f.map((v, j) => v + j * 1e-6 * i))
      const written = yield* Effect.gen(function* () {
        yield* writeAll(Stream.fromIterable(frames))
        return yield* AudioSink.use((sink) => sink.framesWritten)
      }).pipe(Effect.provide(AudioSink.wavFile(file, { encoding: "float32" })))
      assert.strictEqual(written, 4)
      const back = (yield* readWav(file)).channels[0]!
      assert.deepStrictEqual(back, Float32Array.from(frames.flatMap((f) => Array.from(f))))
    }),
  )

  it.effect("a frame of the wrong length is refused with FrameLengthError and nothing is written", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "wrong-length.wav")
      const error = yield* Effect.flip(
        AudioSink.use((sink) =>
          Effect.andThen(sink.write(new Float32Array(AUDIO_FRAME_SIZE)), sink.write(new Float32Array(1000))),
        ).pipe(Effect.provide(AudioSink.wavFile(file))),
      )
      assert.instanceOf(error, FrameLengthError)
      assert.include(error.message, "1920")
      assert.include(error.message, "1000")
      assert.strictEqual((yield* readWav(file)).channels[0]!.length, AUDIO_FRAME_SIZE)
    }),
  )

  it.effect("a sample rate other than 24 kHz is refused with SampleRateMismatchError", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "rate.wav")
      const error = yield* Effect.flip(
        AudioSink.use((sink) => sink.framesWritten).pipe(
          Effect.provide(AudioSink.wavFile(file, { sampleRate: 48000 })),
        ),
      )
      assert.strictEqual(error._tag, "SampleRateMismatchError")
      assert.include(error.message, "48000")
      assert.isFalse(fs.existsSync(file))
    }),
  )

  it.effect("an unwritable path is an AudioWriteError naming it", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "no-such-dir", "x.wav")
      const error = yield* Effect.flip(
        AudioSink.use((sink) => sink.framesWritten).pipe(Effect.provide(AudioSink.wavFile(file))),
      )
      assert.strictEqual(error._tag, "AudioWriteError")
      assert.include(error.message, file)
    }),
  )
})

describe("in-memory and null sinks, synthetic sources", () => {
  it.effect("memory() keeps copies of what was written, readable through MemorySink", () =>
    Effect.gen(function* () {
      const frames = numbered(3)
      const { kept, samples, count } = yield* Effect.gen(function* () {
        yield* writeAll(Stream.fromIterable(frames))
        frames[0]!.fill(0) // the caller reusing its buffer must not change what was kept
        const memory = yield* MemorySink
        return {
          kept: yield* memory.frames,
          samples: yield* memory.samples,
          count: yield* AudioSink.use((s) => s.framesWritten),
        }
      }).pipe(Effect.provide(AudioSink.memory()))
      assert.strictEqual(count, 3)
      assert.deepStrictEqual(frameValues(samples), [1, 2, 3])
      assert.strictEqual(kept[0]![0], Math.fround(0.01))
    }),
  )

  it.effect("discard counts frames and still checks their length", () =>
    Effect.gen(function* () {
      const result = yield* Effect.gen(function* () {
        yield* writeAll(Stream.fromIterable(numbered(5)))
        const sink = yield* AudioSink
        const wrong = yield* Effect.flip(sink.write(new Float32Array(1921)))
        return { count: yield* sink.framesWritten, wrong }
      }).pipe(Effect.provide(AudioSink.discard))
      assert.strictEqual(result.count, 5)
      assert.strictEqual(result.wrong._tag, "FrameLengthError")
    }),
  )

  it.effect("silence(n) gives n zero frames; fromFrames replays given frames and rejects bad lengths", () =>
    Effect.gen(function* () {
      const collect = (layer: Layer.Layer<AudioSource>) =>
        AudioSource.use((s) => Stream.runCollect(s.frames)).pipe(Effect.provide(layer))
      const silent = yield* collect(AudioSource.silence(4))
      assert.strictEqual(silent.length, 4)
      assert.isTrue(silent.every((f) => f.length === AUDIO_FRAME_SIZE && f.every((v) => v === 0)))
      assert.deepStrictEqual(
        frameValues(
          Float32Array.from(
            (yield* collect(AudioSource.fromFrames(numbered(2)))).flatMap((f) => Array.from(f)),
          ),
        ),
        [1, 2],
      )
      const error = yield* Effect.flip(
        collect(AudioSource.fromFrames([new Float32Array(1920), new Float32Array(960)])),
      )
      assert.strictEqual(error._tag, "FrameLengthError")
      assert.include(error.message, "frame 1")
      const endless = yield* AudioSource.use((s) => Stream.runCollect(Stream.take(s.frames, 7))).pipe(
        Effect.provide(AudioSource.silence(Number.POSITIVE_INFINITY)),
      )
      assert.strictEqual(endless.length, 7)
    }),
  )
})
