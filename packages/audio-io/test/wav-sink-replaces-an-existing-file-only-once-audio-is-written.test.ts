import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { AUDIO_FRAME_SIZE, AudioSink, paced, readWav, writeAll } from "../src/index.ts"
import { tempDir } from "./support/signals.ts"

const frames = (count: number) =>
  Array.from({ length: count }, (_, i) => new Float32Array(AUDIO_FRAME_SIZE).fill((i + 1) / 100))

/** A folder holding `keep.wav` with some earlier content. */
const folderWithEarlierOutput = (name: string) => {
  const folder = path.join(tempDir("sink-replace"), name)
  fs.mkdirSync(folder, { recursive: true })
  const file = path.join(folder, "keep.wav")
  fs.writeFileSync(file, "the earlier run's audio")
  return { folder, file }
}

describe("AudioSink.wavFile leaves an earlier file alone until it has audio", () => {
  it.effect("a run that fails before its first frame keeps the earlier file and leaves no temp file", () =>
    Effect.gen(function* () {
      const { folder, file } = folderWithEarlierOutput("fails")
      const error = yield* Effect.flip(
        writeAll(Stream.fail("input unreadable" as const)).pipe(Effect.provide(AudioSink.wavFile(file))),
      )
      assert.strictEqual(error, "input unreadable")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "the earlier run's audio")
      assert.deepStrictEqual(fs.readdirSync(folder), ["keep.wav"])
    }),
  )

  it.effect("a run interrupted before its first frame keeps the earlier file", () =>
    Effect.gen(function* () {
      const { folder, file } = folderWithEarlierOutput("interrupted")
      const fiber = yield* writeAll(paced(Stream.fromIterable(frames(5)), "realtime")).pipe(
        Effect.provide(AudioSink.wavFile(file)),
        Effect.forkChild,
      )
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(fs.readFileSync(file, "utf8"), "the earlier run's audio")
      assert.deepStrictEqual(fs.readdirSync(folder), ["keep.wav"])
    }),
  )

  it.effect("the first frame replaces it; a failure after that keeps the frames written", () =>
    Effect.gen(function* () {
      const { folder, file } = folderWithEarlierOutput("replaced")
      const failing = Stream.concat(Stream.fromIterable(frames(2)), Stream.fail("model error" as const))
      yield* Effect.flip(writeAll(failing).pipe(Effect.provide(AudioSink.wavFile(file))))
      assert.strictEqual((yield* readWav(file)).channels[0]!.length, 2 * AUDIO_FRAME_SIZE)
      assert.deepStrictEqual(fs.readdirSync(folder), ["keep.wav"])
    }),
  )

  it.effect("a folder at the output path is an AudioWriteError before anything is written", () =>
    Effect.gen(function* () {
      const folder = tempDir("sink-folder")
      const error = yield* Effect.flip(
        writeAll(Stream.fromIterable(frames(1))).pipe(Effect.provide(AudioSink.wavFile(folder))),
      )
      assert.strictEqual(error._tag, "AudioWriteError")
      assert.include(error.message, `cannot write audio to ${folder}: it is a folder`)
    }),
  )
})
