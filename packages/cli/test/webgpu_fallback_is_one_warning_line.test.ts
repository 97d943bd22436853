import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { built, readReport, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

// No Vulkan driver for the run (any machine): WebGPU has no adapter, so `--device webgpu` falls back.
const noVulkan = { VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" }

describe.skipIf(!built)("`personaplex run --device webgpu` without a WebGPU adapter", () => {
  it("prints one warning line (requested, used, the reason), runs on the CPU and reports that", () => {
    const cwd = tempDir("cli-fallback-")
    writeSmokeConfig(cwd, smokeModels(), [
      "runtime: { device: webgpu }",
      "conversation: { window_frames: 6 }",
    ])
    const run = runBin(runArgs("out.wav", ["--max-seconds", "1"]), cwd, { env: noVulkan })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const stderr = run.stderr.split("\n").filter((line) => line.length > 0 && !line.startsWith("converting"))
    expect(stderr).toHaveLength(1)
    expect(stderr[0]).toMatch(/^warning: onnxruntime: webgpu requested, using cpu: \S/)
    expect(stderr[0]).not.toMatch(/onnxruntime_src|\.cc:\d+|was false/)
    expect(run.stdout).not.toMatch(/WARN|Warning:|onnxruntime_src/)
    expect(run.stdout).toContain(
      "  device         requested webgpu; LM on cpu (two-graph), Mimi on cpu (host-state): all sessions fell back to cpu (see the warning above)\n",
    )
    const report = readReport(path.join(cwd, "out.report.json"))
    expect(report.status).toBe("completed")
    expect(report.meta).toMatchObject({
      device: "webgpu",
      lm: { engine: "two-graph", provider: "cpu" },
      codec: { encoder: "cpu", decoder: "cpu", form: "host-state" },
    })
  }, 240_000)
})
