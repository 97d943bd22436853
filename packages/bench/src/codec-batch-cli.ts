#!/usr/bin/env node
/** The batched-codec benchmark's entry point (`dist/codec-batch.js`). */
import * as os from "node:os"
import * as path from "node:path"
import type { ExecutionProvider } from "@personaplex/runtime"
import { benchArgs, oneOf, whole, wholeList } from "./cliArgs.ts"
import { renderCodecBatchTable, runCodecBatchBench } from "./codecBatchBench.ts"
import { refuseOldNode } from "./nodeCheck.ts"

refuseOldNode("codec-batch")

const USAGE = `
Mimi for B conversations per 80 ms tick: one MimiBatch (one encoder and one decoder run for all B)
against B separate MimiCodecs run one after another, with random weights of the real size (or
--models tiny). On the GPU machine:

  node packages/bench/dist/codec-batch.js --provider webgpu --graph-capture --rows 1,4,8,16,32 --out codec-batch.json

Here on the CPU:

  node packages/bench/dist/codec-batch.js --provider cpu --models tiny --rows 1,4,8 --out /tmp/codec-batch.json`

const args = benchArgs(USAGE, {
  provider: { type: "string", default: "webgpu" },
  models: { type: "string", default: "personaplex" },
  rows: { type: "string", default: "1,4,8" },
  ticks: { type: "string", default: "50" },
  warmup: { type: "string", default: "5" },
  "graph-capture": { type: "boolean", default: false },
  "intra-op-threads": { type: "string" },
  "work-dir": { type: "string", default: path.join(os.tmpdir(), "personaplex-codec-batch-bench") },
  out: { type: "string", default: "codec-batch.json" },
})

const report = await runCodecBatchBench({
  provider: oneOf<ExecutionProvider>("provider", args.provider, ["webgpu", "cpu", "cuda"]),
  models: oneOf("models", args.models, ["personaplex", "tiny"]),
  rows: wholeList("rows", args.rows, 1),
  ticks: whole("ticks", args.ticks, 1),
  warmup: whole("warmup", args.warmup, 0),
  graphCapture: args["graph-capture"],
  ...(args["intra-op-threads"]
    ? { intraOpThreads: whole("intra-op-threads", args["intra-op-threads"], 1) }
    : {}),
  workDir: args["work-dir"],
  out: args.out,
  command: `personaplex-bench codec-batch ${process.argv.slice(2).join(" ")}`,
})
console.log(`\n${renderCodecBatchTable(report)}\nJSON: ${args.out}`)
