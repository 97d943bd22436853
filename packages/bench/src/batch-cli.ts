#!/usr/bin/env node
/** The batch benchmark's entry point (`personaplex-bench-batch`, `dist/batch.js`). */
import * as os from "node:os"
import * as path from "node:path"
import { QUANTIZATIONS, type Quantization } from "@personaplex/lm"
import type { ExecutionProvider } from "@personaplex/runtime"
import { renderBatchTable, runBatchBench } from "./batchBench.ts"
import { benchArgs, oneOf, whole, wholeList } from "./cliArgs.ts"
import { refuseOldNode } from "./nodeCheck.ts"

refuseOldNode("batch")

const USAGE = `
Many conversations on one LM step (LmBatch): tick time, each session's frame, late frames and GPU
memory per number of live sessions and context, with random weights of the real PersonaPlex size
(or --models tiny, or --checkpoint for weights on disk):

  node packages/bench/dist/batch.js --provider webgpu --contexts 187,3000 --sessions 1,2,4,8,16,32 \\
    --quantization int8 --work-dir /tmp/batch --out batch.json

--codec webgpu|cpu puts each session's own Mimi (encode before the step, decode after) in the tick.
--int8-activations runs the int8/int4 linears on int8 activations too (int8Activations).`

const args = benchArgs(USAGE, {
  provider: { type: "string", default: "webgpu" },
  models: { type: "string", default: "personaplex" },
  checkpoint: { type: "string" },
  quantization: { type: "string", default: "int8" },
  contexts: { type: "string", default: "187,3000" },
  sessions: { type: "string", default: "1,2,4,8,16,32" },
  ticks: { type: "string", default: "100" },
  warmup: { type: "string", default: "5" },
  deadline: { type: "string" },
  codec: { type: "string" },
  "int8-activations": { type: "boolean", default: false },
  "work-dir": { type: "string", default: path.join(os.tmpdir(), "personaplex-batch-bench") },
  out: { type: "string", default: "batch-results.json" },
})

const report = await runBatchBench({
  provider: oneOf<ExecutionProvider>("provider", args.provider, ["webgpu", "cpu", "cuda"]),
  models: oneOf("models", args.models, ["personaplex", "tiny"]),
  ...(args.checkpoint ? { checkpoint: args.checkpoint } : {}),
  quantization: oneOf<Quantization>("quantization", args.quantization, QUANTIZATIONS),
  ...(args["int8-activations"] ? { int8Activations: true } : {}),
  contexts: wholeList("contexts", args.contexts, 2),
  sessions: wholeList("sessions", args.sessions, 1),
  ticks: whole("ticks", args.ticks, 1),
  warmup: whole("warmup", args.warmup, 0),
  ...(args.codec ? { codec: oneOf<ExecutionProvider>("codec", args.codec, ["webgpu", "cpu", "cuda"]) } : {}),
  ...(args.deadline ? { deadlineSeconds: whole("deadline", args.deadline, 1) } : {}),
  workDir: args["work-dir"],
  out: args.out,
  command: `personaplex-bench-batch ${process.argv.slice(2).join(" ")}`,
})
console.log(`\n${renderBatchTable(report)}\nJSON: ${args.out}`)
