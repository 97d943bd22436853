/**
 * The pause at each window switch with early compaction and without, through the public loop at
 * real-time pace: the tiny random-weight Mimi and LM fixtures (or any given with --mimi/--lm and
 * configs), a 2-frame thinking clip, and the llama.cpp compactor on a tiny random GGUF (or --gguf).
 * Prints one line per switch and per run; the figures are wall-clock, so run it on an idle machine.
 *
 *   pnpm build && node bench/pause-with-and-without-early-compaction.ts [--gguf model.gguf] [--windows 3] [--window-frames 100]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { AudioSink, AudioSource, assets, loadFrames } from "@personaplex/audio-io"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { Compactor, writeTinyLlamaGguf } from "@personaplex/compaction"
import { LmConfig, LmGen, TextTokenizer } from "@personaplex/lm"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
// The built package (`pnpm build` first): Node runs this file by stripping types, which src/ needs more than.
import { type RunReport, runConversation } from "../dist/index.js"

const { values } = parseArgs({
  options: {
    gguf: { type: "string" },
    windows: { type: "string", default: "3" },
    "window-frames": { type: "string", default: "100" },
  },
})
const fixtures = upstreamFixturesDir()
const json = (name: string) => JSON.parse(fs.readFileSync(path.join(fixtures, name), "utf8"))
const tokenizerModel = fileURLToPath(new URL("../../lm/test/fixtures/tokenizer/tiny.model", import.meta.url))
const windowFrames = Number(values["window-frames"])
const windows = Number(values.windows)
const gguf =
  values.gguf ??
  writeTinyLlamaGguf(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pause-bench-")), "tiny.gguf"), {
    contextLength: 2048,
  }).path

const world = (frames: ReadonlyArray<Float32Array>) =>
  Layer.mergeAll(
    Layer.mergeAll(
      MimiCodec.layer({
        checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
        config: MimiConfig.fromJson(json("mimi-tiny.json")),
      }),
      LmGen.layer({
        checkpoint: path.join(fixtures, "lm-tiny.safetensors"),
        config: LmConfig.fromJson(json("lm-tiny.json")),
        sampling: { seed: 7 },
      }),
    ).pipe(Layer.provide(OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: 1 }))),
    TextTokenizer.layer(tokenizerModel),
    AudioSource.fromFrames(frames, { pace: "realtime" }),
    AudioSink.discard,
    Compactor.llamaCpp({ modelPath: gguf, maxThreads: 2, maxTokens: 48, deadline: 10_000 }),
  )

const run = (early: boolean) =>
  Effect.gen(function* () {
    const hello = yield* loadFrames(assets.helloWav)
    // Input frames that arrive during a switch are dropped (realtime): leave plenty for every window.
    const frames = Array.from({ length: windows * (windowFrames + 200) }, (_, i) => hello[i % hello.length]!)
    const clip = yield* loadFrames(assets.thinkingWav)
    return yield* runConversation({
      windowFrames,
      initialPrompt: "You are a wise and friendly teacher.",
      thinkingClip: clip.slice(0, 2),
      pace: "realtime",
      maxWindows: windows,
      ...(early ? { earlyCompaction: { expectedMs: 500 } } : {}),
    }).pipe(Effect.provide(world(frames)))
  })

const show = (label: string, report: RunReport) => {
  for (const s of report.switches)
    console.log(
      `${label} switch ${s.afterWindow}: pause ${s.pauseMs.toFixed(0)} ms, compaction ${s.compaction.durationMs.toFixed(0)} ms, ` +
        `${s.compactionWaitMs.toFixed(0)} ms of the pause waiting for it` +
        (s.compaction.early
          ? ` (early: lead ${s.compaction.early.leadMs} ms, expected ${s.compaction.early.expectedMs.toFixed(0)} ms, ${s.compaction.early.redone ? `redone on ${s.compaction.early.newWords} words` : "kept"})`
          : ""),
    )
  const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  console.log(
    `${label}: mean pause ${mean(report.switches.map((s) => s.pauseMs)).toFixed(0)} ms, mean wait for compaction ${mean(report.switches.map((s) => s.compactionWaitMs)).toFixed(0)} ms`,
  )
}

await Effect.runPromise(
  Effect.gen(function* () {
    show("at the cut", yield* run(false))
    show("early     ", yield* run(true))
  }),
)
