#!/usr/bin/env node
/** The compactor benchmark's entry point (`personaplex-bench-compactor`, `dist/compactor.js`). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { INSTRUCT_MODELS, type InstructModel, type InstructQuantization } from "@personaplex/compaction"
import { ensureSmokeModels } from "@personaplex/stack"
import { Effect } from "effect"
import { benchArgs, list, oneOf, refuse, whole } from "./cliArgs.ts"
import {
  type LlmCell,
  type PersonaPlexCell,
  renderCompactorTable,
  runCompactorBench,
} from "./compactorBench.ts"
import { refuseOldNode } from "./nodeCheck.ts"

refuseOldNode("compactor")

const USAGE = `
PersonaPlex and the compactor's LLM side by side on one GPU (compactorBench.ts). On the GPU machine,
with real-models.mjs's run configurations:

  node bench/dist/compactor.js --models-dir /tmp/m --gpu vulkan --out compactor.json

Here, end to end on tiny models (smoke PersonaPlex on the CPU, tiny Qwen2.5-layout LLMs):

  node packages/bench/dist/compactor.js --models tiny --llm-shape tiny --gpu vulkan --llm-threads 1 --out /tmp/c.json

--reuse-prefix false times the engine as it was before it kept the instructions' state between
compactions (each prompt evaluated whole, a 4-token warm-up instead of the compactor's).`

const args = benchArgs(USAGE, {
  "models-dir": { type: "string" },
  models: { type: "string", default: "personaplex" },
  device: { type: "string", default: "cpu" },
  personaplex: { type: "string", default: "int8:187,int8:3000,int4:187,int4:3000,int8:750,int4:750" },
  llms: {
    type: "string",
    default: "qwen2.5-1.5b:Q4_K_M,qwen2.5-3b:Q4_K_M,qwen2.5-1.5b:Q8_0,qwen2.5-3b:Q8_0",
  },
  "cpu-llms": { type: "string" },
  "llm-shape": { type: "string" },
  gpu: { type: "string", default: "vulkan" },
  "gpu-layers": { type: "string" },
  "cpu-threads": { type: "string", default: String(os.cpus().length) },
  "llm-threads": { type: "string" },
  "reuse-prefix": { type: "string", default: "true" },
  tokens: { type: "string", default: "300" },
  frames: { type: "string", default: "50" },
  "loop-window-seconds": { type: "string", default: "3" },
  "budget-seconds": { type: "string", default: "420" },
  "work-dir": { type: "string", default: path.join(os.tmpdir(), "personaplex-compactor-bench") },
  out: { type: "string", default: "compactor-bench.json" },
})

const llmList = (flag: string, text: string): Array<LlmCell> =>
  list(text).map((item) => {
    const [model, quantization] = item.split(":")
    return {
      model: oneOf(flag, model ?? "", Object.keys(INSTRUCT_MODELS) as Array<InstructModel>),
      quantization: oneOf(flag, quantization ?? "", ["Q4_K_M", "Q8_0"] as Array<InstructQuantization>),
    }
  })

const workDir = args["work-dir"]
const models = oneOf("models", args.models, ["personaplex", "tiny"])
const device = oneOf("device", args.device, ["cpu", "webgpu"])

/** `precision:context` → the run configuration for it: real-models.mjs's, or one written here for the smoke models. */
const personaplex: Array<PersonaPlexCell> = list(args.personaplex).map((item) => {
  const [precision, contextText] = item.split(":")
  const context = whole("personaplex", contextText ?? "", 12)
  oneOf("personaplex", precision ?? "", ["none", "float16", "int8", "int4"])
  if (models === "personaplex") {
    const dir =
      args["models-dir"] ?? refuse("--models-dir is needed for the real models (real-models.mjs's folder)")
    const config = path.join(dir, `config-ctx${context}-${precision}.yaml`)
    if (!fs.existsSync(config))
      refuse(`${config}: no such run configuration (node real-models.mjs ${dir} ${context} ${precision})`)
    return { precision: precision!, context, config }
  }
  return {
    precision: precision!,
    context,
    config: path.join(workDir, "smoke", `config-ctx${context}-${precision}.yaml`),
  }
})

if (models === "tiny") {
  const smoke = await Effect.runPromise(ensureSmokeModels(path.join(workDir, "smoke")))
  for (const pp of personaplex)
    fs.writeFileSync(
      pp.config,
      [
        "model:",
        `  lm: ${smoke.lm}`,
        `  mimi: ${smoke.mimi}`,
        `  tokenizer: ${smoke.tokenizer}`,
        `  lm_config: ${smoke.lmConfig}`,
        `  mimi_config: ${smoke.mimiConfig}`,
        "runtime:",
        `  device: ${device}`,
        `  quantization: ${pp.precision}`,
        `  context_window: ${pp.context}`,
        `  cache_dir: ${path.join(workDir, "converted")}`,
        "",
      ].join("\n"),
    )
}

const llms = llmList("llms", args.llms)
const shape =
  args["llm-shape"] === undefined
    ? undefined
    : args["llm-shape"] === "tiny"
      ? { embedding: 256, layers: 4, heads: 4, kvHeads: 2, feedForward: 512, vocab: 8192 }
      : refuse(`--llm-shape must be "tiny", got "${args["llm-shape"]}"`)
const gpuLayers = args["gpu-layers"]
const report = await Effect.runPromise(
  Effect.scoped(
    runCompactorBench({
      personaplex,
      llms,
      workDir,
      out: args.out,
      ...(shape === undefined ? {} : { llmShape: shape }),
      gpu: oneOf("gpu", args.gpu, ["auto", "vulkan", "cuda", "metal"]),
      ...(gpuLayers === undefined
        ? {}
        : {
            gpuLayers:
              gpuLayers === "auto" || gpuLayers === "max" ? gpuLayers : whole("gpu-layers", gpuLayers, 0),
          }),
      cpuLlms:
        args["cpu-llms"] === undefined
          ? llms.filter((l) => l.quantization === "Q4_K_M")
          : llmList("cpu-llms", args["cpu-llms"]),
      cpuThreads: whole("cpu-threads", args["cpu-threads"], 1),
      ...(args["llm-threads"] === undefined
        ? {}
        : { llmThreads: whole("llm-threads", args["llm-threads"], 1) }),
      reusePrefix: oneOf("reuse-prefix", args["reuse-prefix"], ["true", "false"]) === "true",
      tokens: whole("tokens", args.tokens, 1),
      frames: whole("frames", args.frames, 1),
      loopWindowSeconds: whole("loop-window-seconds", args["loop-window-seconds"], 0),
      budgetSeconds: whole("budget-seconds", args["budget-seconds"], 1),
      command: `node bench/dist/compactor.js ${process.argv.slice(2).join(" ")}`,
      log: (line) => console.log(line),
    }),
  ),
)
console.log(`\n${renderCompactorTable(report)}\nJSON: ${args.out}`)
