// Evaluation harness: how many planted facts survive N rounds of compaction, and how long the
// prompts get, for each configured compactor. Prints a Markdown table per compactor and writes JSON.
//
//   pnpm --filter @personaplex/compaction eval [--gguf model.gguf] [--url http://127.0.0.1:8080 --model name]
//        [--rounds 10] [--history 1] [--budget 200] [--threads N] [--gpu auto|false] [--context-size 4096]
//        [--output json|text] [--deadline-ms 60000] [--tiny-gguf] [--agent-only] [--json out.json]
//
// --agent-only drops the user's side of the transcript, as when no transcriber layer is configured.
//
// --tiny-gguf scores a random-weight model written on the fly: a plumbing check, its output is noise.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Duration, Effect, Layer } from "effect"
import {
  Compactor,
  type CompactorShape,
  formatHarnessTable,
  type HarnessReport,
  modelFreeCompactor,
  runHarness,
  writeTinyLlamaGguf,
} from "../src/index.ts"

const { values } = parseArgs({
  options: {
    gguf: { type: "string" },
    "tiny-gguf": { type: "boolean", default: false },
    url: { type: "string" },
    model: { type: "string", default: "default" },
    "api-key": { type: "string" },
    rounds: { type: "string", default: "10" },
    history: { type: "string", default: "1" },
    budget: { type: "string", default: "200" },
    threads: { type: "string" },
    gpu: { type: "string", default: "auto" },
    "context-size": { type: "string", default: "4096" },
    output: { type: "string" },
    "max-tokens": { type: "string", default: "300" },
    "deadline-ms": { type: "string", default: "60000" },
    json: { type: "string" },
    "agent-only": { type: "boolean", default: false },
  },
  allowPositionals: false,
})

const harness = {
  rounds: Number(values.rounds),
  historyWindows: Number(values.history),
  wordBudget: Number(values.budget),
  userText: !values["agent-only"],
}
const deadline = Duration.millis(Number(values["deadline-ms"]))
const output = values.output === "text" || values.output === "json" ? values.output : undefined
const gpu = values.gpu === "false" ? false : (values.gpu as "auto" | "cuda" | "vulkan" | "metal")

const score = (name: string, layer: Layer.Layer<Compactor, unknown>) =>
  Effect.gen(function* () {
    const compactor: CompactorShape = yield* Compactor
    return yield* runHarness(compactor, name, harness)
  }).pipe(Effect.provide(layer))

const runs: Array<readonly [string, Layer.Layer<Compactor, unknown>]> = [
  ["model-free", Layer.succeed(Compactor, modelFreeCompactor)],
]

const llamaLayer = (modelPath: string, extra: { contextSize?: number; maxThreads?: number }) =>
  Compactor.llamaCpp({
    modelPath,
    gpu,
    contextSize: Number(values["context-size"]),
    maxTokens: Number(values["max-tokens"]),
    deadline,
    ...(values.threads === undefined ? {} : { maxThreads: Number(values.threads) }),
    ...(output === undefined ? {} : { output }),
    ...extra,
  })

if (values.gguf) runs.push([`gguf:${path.basename(values.gguf)}`, llamaLayer(values.gguf, {})])
if (values["tiny-gguf"]) {
  const tiny = writeTinyLlamaGguf(
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tiny-gguf-")), "tiny.gguf"),
    {
      contextLength: 8192,
    },
  )
  // Its byte-level vocabulary spends ~1 token per character: give it room for the default instructions.
  runs.push([
    "gguf:tiny-random",
    llamaLayer(tiny.path, { contextSize: 8192, maxThreads: Number(values.threads ?? 1) }),
  ])
}
if (values.url)
  runs.push([
    `http:${values.model}`,
    Compactor.openAiCompatible({
      baseUrl: values.url,
      model: values.model,
      deadline,
      maxTokens: Number(values["max-tokens"]),
      ...(values["api-key"] ? { apiKey: values["api-key"] } : {}),
      ...(output === undefined ? {} : { output }),
    }),
  ])

const reports: Array<HarnessReport> = []
for (const [name, layer] of runs) {
  const started = Date.now()
  const report = await Effect.runPromise(score(name, layer))
  reports.push(report)
  console.log(
    `\n${name}: ${harness.rounds} rounds, ${harness.historyWindows} window(s) of history per round, budget ${harness.wordBudget} words${harness.userText ? "" : ", agent text only"} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  )
  console.log(formatHarnessTable(report))
}

const out = values.json ?? path.join(import.meta.dirname, "results", "eval.json")
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.writeFileSync(
  out,
  JSON.stringify(
    { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, harness, reports },
    null,
    2,
  ),
)
console.log(`\nJSON: ${out}`)
