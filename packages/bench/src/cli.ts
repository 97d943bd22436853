#!/usr/bin/env node
/** The real-time benchmark's entry point (`personaplex-bench`, `dist/cli.js`). */
import * as os from "node:os"
import * as path from "node:path"
import type { GpuPrecision } from "@personaplex/lm"
import type { ExecutionProvider } from "@personaplex/runtime"
import { FRAME_SCHEDULES, parseVariant, runBench, VARIANTS } from "./bench.ts"
import { benchArgs, list, oneOf, whole, wholeList } from "./cliArgs.ts"
import { refuseOldNode } from "./nodeCheck.ts"
import { renderTable } from "./report.ts"

refuseOldNode("cli")

const USAGE = `
The real-time benchmark of the whole frame (Mimi encode + LM step + two Mimi decodes) on one execution
provider, through LmGen and MimiCodec as the loop runs them, with random weights of the real PersonaPlex
size (or --models tiny):

  node packages/bench/dist/cli.js --provider webgpu --precisions int8,int4,float16 --contexts 3000,187 \\
    --work-dir /tmp/bench --out results.json

--variants: ${Object.keys(VARIANTS).join(", ")}; --schedules: ${FRAME_SCHEDULES.join(", ")}.`

const args = benchArgs(USAGE, {
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
  "max-frames": { type: "string" },
  variants: { type: "string" },
  "profile-dir": { type: "string" },
  schedules: { type: "string", default: FRAME_SCHEDULES.join(",") },
  "webgpu-validation": { type: "string" },
})

/** An optional flag's value if it is one of `allowed`. */
const maybeOneOf = <A extends string>(flag: string, value: string | undefined, allowed: ReadonlyArray<A>) =>
  value === undefined ? undefined : oneOf(flag, value, allowed)
const onOff = (flag: "codec-spinning" | "codec-capture") => {
  const value = maybeOneOf(flag, args[flag], ["on", "off"])
  return value === undefined ? undefined : value === "on"
}
const PROVIDERS: ReadonlyArray<ExecutionProvider> = ["webgpu", "cpu", "cuda"]
const provider = oneOf("provider", args.provider, PROVIDERS)
const codecProvider = maybeOneOf("codec-provider", args["codec-provider"], [...PROVIDERS, "auto"])
const userCodecProvider = maybeOneOf("user-codec-provider", args["user-codec-provider"], PROVIDERS)
const codecForms = maybeOneOf("codec-forms", args["codec-forms"], ["cpu", "gpu"])
const validation = maybeOneOf("webgpu-validation", args["webgpu-validation"], [
  "disabled",
  "wgpuOnly",
  "basic",
  "full",
])
const [codecSpinning, codecCapture] = [onOff("codec-spinning"), onOff("codec-capture")]
const schedules = list(args.schedules).map((s) => oneOf("schedules", s, FRAME_SCHEDULES))
const models = oneOf("models", args.models, ["personaplex", "tiny"])
const PRECISIONS: ReadonlyArray<GpuPrecision> = ["float16", "int8", "int4"]
const precisions = list(args.precisions).map((p) => oneOf("precisions", p, PRECISIONS))
const depformerSteps = Number(oneOf("depformer-steps", args["depformer-steps"], ["8", "16"])) as 8 | 16
const optionalWhole = (flag: "threads" | "deadline" | "codec-threads") =>
  args[flag] === undefined ? undefined : whole(flag, args[flag], 1)
const maxFrames =
  args["max-frames"] === undefined || args["max-frames"] === "context"
    ? args["max-frames"]
    : whole("max-frames", args["max-frames"], 2)
const [threads, deadline, codecThreads] = [
  optionalWhole("threads"),
  optionalWhole("deadline"),
  optionalWhole("codec-threads"),
]
const report = await runBench({
  provider,
  models,
  precisions,
  contexts: wholeList("contexts", args.contexts, 1),
  frames: whole("frames", args.frames, 1),
  warmup: whole("warmup", args.warmup, 0),
  restarts: whole("restarts", args.restarts, 0),
  workDir: args["work-dir"],
  out: args.out,
  workers: whole("workers", args.workers, 0),
  ...(threads ? { intraOpThreads: threads } : {}),
  depformerSteps,
  ...(deadline ? { deadlineSeconds: deadline } : {}),
  ...(codecProvider ? { codecProvider } : {}),
  ...(codecThreads ? { codecThreads } : {}),
  ...(userCodecProvider ? { userCodecProvider } : {}),
  ...(codecSpinning === undefined ? {} : { codecSpinning }),
  ...(codecCapture === undefined ? {} : { codecGraphCapture: codecCapture }),
  ...(codecForms ? { codecForms } : {}),
  ...(maxFrames === undefined ? {} : { maxFrames }),
  ...(args.variants ? { variants: list(args.variants).map(parseVariant) } : {}),
  ...(args["profile-dir"] ? { profileDir: args["profile-dir"] } : {}),
  schedules,
  ...(validation ? { webGpu: { validationMode: validation } } : {}),
  command: `personaplex-bench ${process.argv.slice(2).join(" ")}`,
})
console.log(`\n${renderTable(report)}\nJSON: ${args.out}`)
