#!/usr/bin/env node
/**
 * The real-time benchmark of the whole frame (Mimi encode + LM step + two Mimi decodes) on one
 * execution provider, with random weights of the real PersonaPlex size (or `--models tiny`):
 *
 *   node packages/bench/dist/cli.js --provider webgpu --precisions int8,int4,float16 --contexts 3000,187 \
 *     --work-dir /tmp/bench --out results.json
 */
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import type { ExecutionProvider, WebGpuOptions } from "@personaplex/runtime"
import { FRAME_SCHEDULES, type FrameSchedule, parseVariant, runBench } from "./bench.ts"
import type { GpuPrecision } from "./convert/layout.ts"
import { renderTable } from "./report.ts"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    provider: { type: "string", default: "webgpu" },
    models: { type: "string", default: "personaplex" },
    precisions: { type: "string", default: "int8,int4,float16" },
    contexts: { type: "string", default: "3000,187" },
    frames: { type: "string", default: "200" },
    warmup: { type: "string", default: "10" },
    restarts: { type: "string", default: "5" },
    "work-dir": { type: "string", default: path.join(os.tmpdir(), "personaplex-bench") },
    out: { type: "string", default: "bench-results.json" },
    workers: { type: "string", default: String(Math.max(1, os.cpus().length - 1)) },
    threads: { type: "string" },
    "depformer-steps": { type: "string", default: "8" },
    deadline: { type: "string" },
    "codec-provider": { type: "string" },
    "codec-threads": { type: "string" },
    "user-codec-provider": { type: "string" },
    "codec-spinning": { type: "string" },
    "codec-capture": { type: "string" },
    "codec-forms": { type: "string" },
    "fused-ops": { type: "string" },
    variants: { type: "string" },
    "profile-dir": { type: "string" },
    schedules: { type: "string", default: FRAME_SCHEDULES.join(",") },
    "webgpu-validation": { type: "string" },
  },
})

for (const flag of ["fused-ops", "codec-spinning", "codec-capture"] as const)
  if (args[flag] !== undefined && !["on", "off"].includes(args[flag]))
    throw new Error(`--${flag} must be "on" or "off", got "${args[flag]}"`)
const codecForms = args["codec-forms"]
if (codecForms !== undefined && codecForms !== "cpu" && codecForms !== "gpu")
  throw new Error(`--codec-forms must be "cpu" or "gpu", got "${codecForms}"`)
const list = (s: string) => s.split(",").filter((x) => x.length > 0)
const schedules = list(args.schedules) as FrameSchedule[]
for (const s of schedules)
  if (!FRAME_SCHEDULES.includes(s))
    throw new Error(`--schedules: unknown schedule "${s}" (${FRAME_SCHEDULES.join(", ")})`)
const validationModes = ["disabled", "wgpuOnly", "basic", "full"]
const validation = args["webgpu-validation"]
if (validation !== undefined && !validationModes.includes(validation))
  throw new Error(`--webgpu-validation must be one of ${validationModes.join(", ")}, got "${validation}"`)
const report = await runBench({
  provider: args.provider as ExecutionProvider,
  models: args.models as "personaplex" | "tiny",
  precisions: list(args.precisions) as GpuPrecision[],
  contexts: list(args.contexts).map(Number),
  frames: Number(args.frames),
  warmup: Number(args.warmup),
  restarts: Number(args.restarts),
  workDir: args["work-dir"],
  out: args.out,
  workers: Number(args.workers),
  ...(args.threads ? { intraOpThreads: Number(args.threads) } : {}),
  depformerSteps: Number(args["depformer-steps"]),
  ...(args.deadline ? { deadlineSeconds: Number(args.deadline) } : {}),
  ...(args["codec-provider"] ? { codecProvider: args["codec-provider"] as ExecutionProvider | "auto" } : {}),
  ...(args["codec-threads"] ? { codecThreads: Number(args["codec-threads"]) } : {}),
  ...(args["user-codec-provider"]
    ? { userCodecProvider: args["user-codec-provider"] as ExecutionProvider }
    : {}),
  ...(args["codec-spinning"] ? { codecSpinning: args["codec-spinning"] === "on" } : {}),
  ...(args["codec-capture"] ? { codecGraphCapture: args["codec-capture"] === "on" } : {}),
  ...(codecForms ? { codecForms } : {}),
  ...(args["fused-ops"] ? { fusedOps: args["fused-ops"] === "on" } : {}),
  ...(args.variants ? { variants: list(args.variants).map(parseVariant) } : {}),
  ...(args["profile-dir"] ? { profileDir: args["profile-dir"] } : {}),
  schedules,
  ...(validation
    ? { webGpu: { validationMode: validation as NonNullable<WebGpuOptions["validationMode"]> } }
    : {}),
  command: `personaplex-bench ${process.argv.slice(2).join(" ")}`,
})
console.log(`\n${renderTable(report)}\nJSON: ${args.out}`)
