/**
 * The pause at each window switch with early compaction and without, through the public loop at
 * real-time pace: the tiny random-weight Mimi and LM fixtures, the shipped thinking clip (1.8 s, or
 * its first --clip-frames), and two compactors: the model-free one and llama.cpp on a tiny random
 * GGUF (or --gguf). For each, three runs: compaction at the cut, early compaction, and early
 * compaction with the clip cut short once the next window is ready (thinkingClipMinMs =
 * --clip-min-ms). Prints one line per switch and a table; the figures are wall-clock, so run it on
 * an idle machine.
 *
 *   pnpm build && node bench/pause-with-and-without-early-compaction.ts [--gguf model.gguf] [--windows 3] [--window-frames 100] [--clip-min-ms 400] [--clip-frames N] [--llama-threads 1] [--compactor both|model-free|llama]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { AudioSink, AudioSource, assets, loadFrames } from "@personaplex/audio-io"
import { Compactor, writeTinyLlamaGguf } from "@personaplex/compaction"
import { TextTokenizer } from "@personaplex/lm"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
// The built package (`pnpm build` first): Node runs this file by stripping types, which src/ needs more than.
import { type RunReport, runConversation } from "../dist/index.js"
import { tinyModels, tokenizerModel } from "../test/support/tinyModels.ts"

const { values } = parseArgs({
  options: {
    gguf: { type: "string" },
    windows: { type: "string", default: "3" },
    "window-frames": { type: "string", default: "100" },
    "clip-min-ms": { type: "string", default: "400" },
    "clip-frames": { type: "string" },
    "llama-threads": { type: "string", default: "1" },
    compactor: { type: "string", default: "both" },
  },
})
const windowFrames = Number(values["window-frames"])
const windows = Number(values.windows)
const clipMinMs = Number(values["clip-min-ms"])
const gguf =
  values.gguf ??
  writeTinyLlamaGguf(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pause-bench-")), "tiny.gguf"), {
    contextLength: 2048,
  }).path

type CompactorName = "model-free" | "llama.cpp"
const compactors: ReadonlyArray<CompactorName> =
  values.compactor === "model-free"
    ? ["model-free"]
    : values.compactor === "llama"
      ? ["llama.cpp"]
      : ["model-free", "llama.cpp"]

const compactorLayer = (name: CompactorName) =>
  name === "model-free"
    ? Compactor.modelFree
    : Compactor.llamaCpp({
        modelPath: gguf,
        maxThreads: Number(values["llama-threads"]),
        maxTokens: 48,
        deadline: 10_000,
      })

const world = (frames: ReadonlyArray<Float32Array>, compactor: CompactorName) =>
  Layer.mergeAll(
    tinyModels({
      sampling: { seed: 7 },
      ortSession: OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: 1 }),
    }),
    TextTokenizer.layer(tokenizerModel),
    AudioSource.fromFrames(frames, { pace: "realtime" }),
    AudioSink.discard,
    compactorLayer(compactor),
  )

type Mode = "at the cut" | "early" | "early + clip cut short"
const modes: ReadonlyArray<Mode> = ["at the cut", "early", "early + clip cut short"]

const run = (compactor: CompactorName, mode: Mode) =>
  Effect.gen(function* () {
    const hello = yield* loadFrames(assets.helloWav)
    // Input frames that arrive during a switch are dropped (realtime): leave plenty for every window.
    const frames = Array.from({ length: windows * (windowFrames + 200) }, (_, i) => hello[i % hello.length]!)
    const whole = yield* loadFrames(assets.thinkingWav)
    const clip = values["clip-frames"] === undefined ? whole : whole.slice(0, Number(values["clip-frames"]))
    const report = yield* runConversation({
      windowFrames,
      initialPrompt: "You are a wise and friendly teacher.",
      thinkingClip: clip,
      pace: "realtime",
      maxWindows: windows,
      ...(mode !== "at the cut" ? { earlyCompaction: { expectedMs: 500 } } : {}),
      ...(mode === "early + clip cut short" ? { thinkingClipMinMs: clipMinMs } : {}),
    }).pipe(Effect.provide(world(frames, compactor)))
    return { report, clipFrames: clip.length }
  })

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

/** The next window's prompt injection after a switch: the rest of the pause, beside the clip and the compaction. */
const promptAfter = (report: RunReport, afterWindow: number) => report.windows[afterWindow + 1]!

const show = (label: string, report: RunReport) => {
  for (const s of report.switches)
    console.log(
      `${label} switch ${s.afterWindow}: pause ${s.pauseMs.toFixed(0)} ms (clip ${s.clipFrames} frames${s.clipCutShort ? ", cut short" : ""}, ${s.silenceFrames} silence), ` +
        `prompt ${promptAfter(report, s.afterWindow).promptTokens} tokens in ${promptAfter(report, s.afterWindow).promptMs.toFixed(0)} ms, ` +
        `compaction ${s.compaction.durationMs.toFixed(0)} ms (${s.compaction.source}), ${s.compactionWaitMs.toFixed(0)} ms of the pause waiting for it` +
        (s.compaction.early
          ? ` (early: lead ${s.compaction.early.leadMs} ms, expected ${s.compaction.early.expectedMs.toFixed(0)} ms, ${s.compaction.early.redone ? `redone on ${s.compaction.early.newWords} words` : "kept"})`
          : ""),
    )
}

await Effect.runPromise(
  Effect.gen(function* () {
    const rows: Array<string> = []
    let clipFrames = 0
    for (const compactor of compactors)
      for (const mode of modes) {
        const result = yield* run(compactor, mode)
        clipFrames = result.clipFrames
        const label = `${compactor}, ${mode}:`
        show(label, result.report)
        const switches = result.report.switches
        rows.push(
          `| ${compactor} | ${mode} | ${switches.length} | ${mean(switches.map((s) => s.pauseMs)).toFixed(0)} | ` +
            `${Math.max(...switches.map((s) => s.pauseMs)).toFixed(0)} | ${mean(switches.map((s) => s.compactionWaitMs)).toFixed(0)} | ` +
            `${mean(switches.map((s) => s.compaction.durationMs)).toFixed(0)} | ${mean(switches.map((s) => promptAfter(result.report, s.afterWindow).promptMs)).toFixed(0)} | ` +
            `${mean(switches.map((s) => s.clipFrames)).toFixed(1)} |`,
        )
      }
    console.log(
      `\n${windows} windows of ${windowFrames} frames, thinking clip ${clipFrames} frames (${clipFrames * 80} ms), clip_min_ms ${clipMinMs}`,
    )
    console.log(
      "| compactor | compaction | switches | mean pause ms | max pause ms | mean wait for compaction ms | mean compaction ms | mean prompt injection ms | mean clip frames |",
    )
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (const row of rows) console.log(row)
  }),
)
