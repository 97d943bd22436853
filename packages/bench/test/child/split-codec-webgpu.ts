// Run by webgpu.test.ts in its own process (a crash in onnxruntime's native code then fails that test
// instead of the runner). The benchmark on WebGPU (tiny models) with the agent's codec captured on the
// GPU and the user decode on the CPU: prints the report's codec providers, then each schedule and
// its measured frame count.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseVariant, runBench } from "../../src/index.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-split-codec-"))
try {
  const options = {
    provider: "webgpu" as const,
    models: "tiny" as const,
    precisions: ["int8" as const],
    contexts: [160],
    variants: [parseVariant("gqa")],
    frames: 3,
    warmup: 1,
    restarts: 1,
    workDir: path.join(dir, "work"),
    out: path.join(dir, "report.json"),
    workers: 1,
    depformerSteps: 8,
    codecProvider: "webgpu" as const,
    codecGraphCapture: true,
    userCodecProvider: "cpu" as const,
    codecThreads: 1,
    log: () => {},
  }
  const report = await runBench(options)
  console.log(`codecs: ${report.codecProvider} ${report.userCodecProvider}`)
  for (const [schedule, figures] of Object.entries(report.runs[0]?.schedules ?? {}))
    console.log(`${schedule}: ${figures.frameMs.n} frames`)
  // The same with the codes kept on the device between captured Mimi sessions and a captured LM step.
  const onDevice = await runBench({
    ...options,
    variants: [parseVariant("gqa-capture")],
    codesOnDevice: true,
    out: path.join(dir, "on-device.json"),
  })
  const run = onDevice.runs[0]
  console.log(`codes on device: ${run?.status} ${run?.status === "ok" ? run.variant : run?.error}`)
  for (const [schedule, figures] of Object.entries(run?.schedules ?? {}))
    console.log(`${schedule}: ${figures.frameMs.n} frames`)
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
