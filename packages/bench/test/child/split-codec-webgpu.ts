// Run by webgpu.test.ts in its own process (a crash in onnxruntime's native code then fails that test
// instead of the runner). The benchmark on WebGPU (tiny models) through LmGen's fused engine, live and
// replaying a captured step, with the agent's codec captured on the GPU and the user decode on the CPU:
// prints the report's codec providers, then per run its variant, status, where its weights came from,
// and each schedule's measured frame count.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseVariant, runBench } from "../../src/index.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-split-codec-"))
try {
  const report = await runBench({
    provider: "webgpu",
    models: "tiny",
    precisions: ["int8"],
    contexts: [160],
    variants: [parseVariant("gqa"), parseVariant("gqa-capture")],
    frames: 3,
    warmup: 1,
    restarts: 1,
    workDir: path.join(dir, "work"),
    out: path.join(dir, "report.json"),
    workers: 1,
    depformerSteps: 8,
    codecProvider: "webgpu",
    codecGraphCapture: true,
    userCodecProvider: "cpu",
    codecThreads: 1,
    log: () => {},
  })
  console.log(`codecs: ${report.codecProvider} ${report.userCodecProvider}`)
  for (const run of report.runs) {
    console.log(
      `${run.variant}: ${run.status === "ok" ? `ok ${run.engine} ${run.graphSource}` : `${run.status} ${run.error}`}`,
    )
    for (const [schedule, figures] of Object.entries(run.schedules ?? {}))
      console.log(`${schedule}: ${figures.frameMs.n} frames`)
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
