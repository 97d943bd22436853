/**
 * The whole loop on the tiny random-weight models (real Mimi codec and LmGen graphs on
 * onnxruntime, real tokenizer, WAV in, WAV out, model-free compactor).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { AudioSink, AudioSource, assets, loadMono24k, loadThinkingClip, readWav } from "@personaplex/audio-io"
import { Compactor } from "@personaplex/compaction"
import { TextTokenizer, VoicePrompt } from "@personaplex/lm"
import { Effect, Fiber, Layer } from "effect"
import type { RunReport } from "../src/report.ts"
import { runConversation } from "../src/runConversation.ts"
import { fixtures, tinyModels, tinyModelsAvailable, tokenizerModel } from "./support/tinyModels.ts"

if (!tinyModelsAvailable)
  console.log(`skipping the tiny-model loop tests: no fixtures at ${fixtures} or no ${tokenizerModel}`)

const world = (outWav: string) =>
  Layer.mergeAll(
    tinyModels({ sampling: { seed: 7 } }),
    TextTokenizer.layer(tokenizerModel),
    AudioSource.wavFile(assets.helloWav, { pace: "fast" }),
    AudioSink.wavFile(outWav),
    Compactor.modelFree,
  )

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "loop-e2e-"))

describe.skipIf(!tinyModelsAvailable)("loop on the tiny models", () => {
  it.live(
    "three windows over a WAV: output = input + two thinking clips, three prompts, a complete report",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const outWav = path.join(dir, "out.wav")
        const reportPath = path.join(dir, "report.json")
        const clip = yield* loadThinkingClip(assets.thinkingWav)
        const input = yield* loadMono24k(assets.helloWav)
        const inputFrames = Math.ceil(input.length / 1920)
        const windowFrames = Math.ceil(inputFrames / 3)
        assert.isAbove(inputFrames, 2 * windowFrames) // three windows, the last one possibly shorter

        const report = yield* runConversation({
          windowFrames,
          initialPrompt: "You are a wise and friendly teacher.",
          voice: VoicePrompt.audio((yield* loadMono24k(assets.thinkingWav)).subarray(0, 24000)),
          thinkingClip: clip,
          reportPath,
        }).pipe(Effect.provide(world(outWav)))

        const wav = yield* readWav(outWav)
        assert.strictEqual(wav.sampleRate, 24000)
        assert.strictEqual(wav.channels.length, 1)
        assert.strictEqual(wav.channels[0]!.length, (inputFrames + 2 * clip.length) * 1920)

        const written = JSON.parse(fs.readFileSync(reportPath, "utf8")) as RunReport
        assert.deepStrictEqual(written, JSON.parse(JSON.stringify(report)))
        assert.strictEqual(written.status, "completed")
        assert.strictEqual(written.inputFrames, inputFrames)
        assert.strictEqual(written.outputFrames, inputFrames + 2 * clip.length)
        assert.strictEqual(written.windows.length, 3)
        assert.deepStrictEqual(
          written.windows.map((w) => w.promptSource),
          ["initial", "model", "model"],
        )
        for (const w of written.windows) {
          assert.match(w.prompt, /^<system> .* <system>$/)
          assert.isAbove(w.promptTokens, 0)
          assert.strictEqual(w.frameTimings.count, w.inputFrames)
        }
        assert.strictEqual(written.switches.length, 2)
        for (const s of written.switches) {
          assert.strictEqual(s.clipFrames, clip.length)
          assert.isAbove(s.pauseMs, 0)
        }
        assert.strictEqual(written.timings.frame.count, inputFrames)
        assert.strictEqual(written.timings.pauseMs.length, 2)
        assert.isAbove(written.timings.realTimeFactor, 0)
      }),
    300_000,
  )

  it.live(
    "interrupted mid-run: the WAV holds every frame written and the report is marked interrupted",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const outWav = path.join(dir, "out.wav")
        const reportPath = path.join(dir, "report.json")
        const clip = yield* loadThinkingClip(assets.thinkingWav)
        let frames = 0
        const fiber = yield* runConversation(
          { windowFrames: 10, initialPrompt: "Hello.", thinkingClip: clip, reportPath },
          (event) => Effect.sync(() => void (event._tag === "FrameProcessed" && frames++)),
        ).pipe(Effect.provide(world(outWav)), Effect.forkChild)
        while (frames < 15) yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)

        const report = JSON.parse(fs.readFileSync(reportPath, "utf8")) as RunReport
        assert.strictEqual(report.status, "interrupted")
        assert.isAtLeast(report.inputFrames, 15)
        const wav = yield* readWav(outWav)
        assert.strictEqual(wav.channels[0]!.length, report.outputFrames * 1920)
        assert.isAtLeast(report.outputFrames, 15)
      }),
    300_000,
  )
})
