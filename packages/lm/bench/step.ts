/**
 * Per-frame LM latency: the temporal step, the depformer loop and the whole frame (p50/p99), for
 * the lm-tiny fixture and a synthetic mid-size random model (dim 1024, 8 layers), across
 * quantization, depformer steps and context. Runs against the built package (`pnpm build` first):
 *   node bench/step.ts [--ep cpu|webgpu] [--threads 1] [--frames 40] [--out bench/results/step.json]
 * Prints a table and writes JSON. Erasable TypeScript only (Node strips the types).
 * The REAL 7B configuration on the GPU is measured by `pnpm bench:gpu` (packages/bench).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect } from "effect"
import { LmConfig, lmCheckpointTensors, MoshiLm, writeRandomLmCheckpoint } from "../dist/index.js"

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}
const frames = Number(arg("frames", "40"))
const ep = arg("ep", "cpu") as "cpu" | "webgpu"
const threads = Number(arg("threads", "1"))
const outFile = arg("out", path.join(import.meta.dirname, "results", "step.json"))

const tinyJson = JSON.parse(fs.readFileSync(path.join(upstreamFixturesDir(), "lm-tiny.json"), "utf8"))
const mid = LmConfig.fromJson({
  ...tinyJson.config,
  dim: 1024,
  num_heads: 16,
  num_layers: 8,
  text_card: 8000,
  depformer_dim: 512,
  depformer_num_heads: 8,
  depformer_num_layers: 2,
  depformer_dim_feedforward: Math.floor(4.125 * 512),
})
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-"))
const midCheckpoint = path.join(tmp, "mid.safetensors")
writeRandomLmCheckpoint(midCheckpoint, lmCheckpointTensors(mid))
const models = [
  {
    model: "lm-tiny",
    config: LmConfig.fromJson(tinyJson),
    checkpoint: path.join(upstreamFixturesDir(), "lm-tiny.safetensors"),
  },
  {
    model: "mid (d1024, 8 layers)",
    config: mid,
    checkpoint: midCheckpoint,
  },
]
const variants = [
  { quantization: "none", depformerSteps: 8, context: 3000 },
  { quantization: "none", depformerSteps: 16, context: 3000 },
  { quantization: "none", depformerSteps: 8, context: 750 },
  { quantization: "int8", depformerSteps: 8, context: 3000 },
  { quantization: "int4", depformerSteps: 8, context: 3000 },
] as const

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const rows: Array<Record<string, string | number>> = []
const ms = (p50: unknown, p99: unknown) =>
  `${(p50 as number).toFixed(2).padStart(7)}/${(p99 as number).toFixed(2).padStart(7)}`
for (const m of models)
  for (const v of variants) {
    const row = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const built = performance.now()
          const lm = yield* MoshiLm.make({ checkpoint: m.checkpoint, config: m.config, ...v })
          const buildMs = performance.now() - built
          const greedyText = { temperature: 1, topK: 1, noise: new Float32Array(m.config.textCard) }
          const greedyAudio = {
            temperature: 1,
            topK: 1,
            noise: new Float32Array(v.depformerSteps * m.config.card),
          }
          const temporal: number[] = []
          const depformer: number[] = []
          const frame: number[] = []
          for (let f = 0; f < frames; f++) {
            const tokens = Int32Array.from({ length: 17 }, (_, k) =>
              k === 0 ? 3 : (f * 7 + k) % m.config.card,
            )
            const t0 = performance.now()
            const out = yield* lm.temporal({ tokens, text: greedyText })
            const t1 = performance.now()
            yield* lm.depformer({
              hidden: out.hidden,
              text: out.textToken,
              forced: new Int32Array(16),
              forcedMask: new Uint8Array(16).fill(0),
              audio: greedyAudio,
            })
            const t2 = performance.now()
            if (f >= 3) {
              temporal.push(t1 - t0)
              depformer.push(t2 - t1)
              frame.push(t2 - t0)
            }
          }
          return {
            model: m.model,
            ...v,
            buildMs: Math.round(buildMs),
            temporalMs: percentile(temporal, 50),
            temporalP99Ms: percentile(temporal, 99),
            depformerMs: percentile(depformer, 50),
            depformerP99Ms: percentile(depformer, 99),
            frameMs: percentile(frame, 50),
            frameP99Ms: percentile(frame, 99),
          }
        }),
      ).pipe(Effect.provide(OrtSession.layer({ executionProviders: [ep], intraOpThreads: threads }))),
    )
    rows.push(row)
    console.log(
      `${String(row.model).padEnd(24)} ${String(row.quantization).padEnd(5)} dep ${String(row.depformerSteps).padStart(2)} ctx ${String(row.context).padStart(4)}  build ${String(row.buildMs).padStart(6)} ms  temporal ${ms(row.temporalMs, row.temporalP99Ms)}  depformer ${ms(row.depformerMs, row.depformerP99Ms)}  frame ${ms(row.frameMs, row.frameP99Ms)}  (p50/p99 ms)`,
    )
  }
fs.mkdirSync(path.dirname(outFile), { recursive: true })
fs.writeFileSync(
  outFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: `node bench/step.ts ${process.argv.slice(2).join(" ")}`.trim(),
      executionProvider: ep,
      cpu: os.cpus()[0]?.model,
      threads,
      frames,
      rows,
    },
    null,
    2,
  ),
)
fs.rmSync(tmp, { recursive: true, force: true })
console.log(`wrote ${outFile}`)
