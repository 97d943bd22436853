/**
 * The README's swappability example, run: a user's own Compactor and AudioSource layers in
 * place of the shipped ones, around the real tiny models.
 */
import { assert, describe, it } from "@effect/vitest"
import { AudioSink, AudioSource, MemorySink } from "@personaplex/audio-io"
import { Compactor } from "@personaplex/compaction"
import { TextTokenizer } from "@personaplex/lm"
import { Effect, Layer, Stream } from "effect"
import { ConversationLoop } from "../src/ConversationLoop.ts"
import { tinyModels, tinyModelsAvailable, tokenizerModel } from "./support/tinyModels.ts"

// A compactor of your own: any Effect from the transcript to the next prompt.
const KeepLastWords = Layer.succeed(
  Compactor,
  Compactor.of({
    compact: (input) =>
      Effect.succeed({
        prompt: `<system> ${input.basePersona} Last window ${input.history.length - 1}. <system>`,
        source: "model" as const,
        durationMs: 0,
      }),
  }),
)

// An audio source of your own: any stream of 24 kHz mono 1920-sample frames (here a 220 Hz tone).
const tone = (frames: number) =>
  Stream.range(0, frames - 1).pipe(
    Stream.map((f) =>
      Float32Array.from(
        { length: 1920 },
        (_, i) => 0.2 * Math.sin((2 * Math.PI * 220 * (f * 1920 + i)) / 24000),
      ),
    ),
  )
const ToneSource = AudioSource.fromStream(tone(12))

describe.skipIf(!tinyModelsAvailable)("swapping layers", () => {
  it.live(
    "the loop runs with a user's Compactor and AudioSource in place of the shipped ones",
    () =>
      Effect.gen(function* () {
        const models = tinyModels()

        const { report, written } = yield* Effect.gen(function* () {
          const loop = yield* ConversationLoop
          const report = yield* loop.run()
          const written = yield* (yield* MemorySink).frames
          return { report, written }
        }).pipe(
          Effect.provide(
            ConversationLoop.layer({
              windowFrames: 4,
              initialPrompt: "You are terse.",
              thinkingClip: [new Float32Array(1920)],
            }),
          ),
          Effect.provide(
            Layer.mergeAll(
              models,
              TextTokenizer.layer(tokenizerModel),
              ToneSource,
              AudioSink.memory(),
              KeepLastWords,
            ),
          ),
        )
        assert.strictEqual(report.inputFrames, 12)
        assert.strictEqual(written.length, 12 + 2)
        assert.deepStrictEqual(
          report.windows.map((w) => w.prompt),
          [
            "<system> You are terse. <system>",
            "<system> You are terse. Last window 0. <system>",
            "<system> You are terse. Last window 1. <system>",
          ],
        )
      }),
    120_000,
  )
})
