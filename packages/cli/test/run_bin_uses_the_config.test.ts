import * as fs from "node:fs"
import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import { webGpuUnavailable } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { built, readReport, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

/** A folder with `run.yaml` naming the smoke models, followed by `lines`. */
const configuredFolder = (prefix: string, lines: ReadonlyArray<string>) => {
  const cwd = tempDir(prefix)
  writeSmokeConfig(cwd, smokeModels(), lines)
  return cwd
}

describe.skipIf(!built)("personaplex run (the built bin)", () => {
  it("runs the configured models over a WAV with flags overriding the file", () => {
    const cwd = configuredFolder("cli-run-", [
      "runtime: { device: cpu, threads: 1 }",
      "conversation:",
      "  window_frames: 6   # smoke-run override of duration",
      "  switch: fixed      # cuts every 6 frames: the sizes below count them",
      "  initial_prompt: You are a calm librarian.",
      "sampling: { seed: 3 }",
    ])
    const run = runBin(runArgs("out/talk.wav", ["--max-seconds", "1"]), cwd)
    expect(run.status, run.all).toBe(0)
    expect(run.stdout).toContain("Run completed")
    const report = readReport(path.join(cwd, "out", "talk.report.json"))
    expect(report.windowFrames).toBe(6)
    expect(report.inputFrames).toBe(13)
    expect(report.windows[0]!.prompt).toBe("<system> You are a calm librarian. <system>")
    expect(report.meta).toMatchObject({
      config: path.join(cwd, "run.yaml"),
      device: "cpu",
      lm: { engine: "two-graph", provider: "cpu" },
      codec: { encoder: "cpu", decoder: "cpu", form: "host-state" },
    })
    expect(run.stdout).toContain(
      "  device         requested cpu; LM on cpu (two-graph), Mimi on cpu (host-state)\n",
    )
    expect(fs.statSync(path.join(cwd, "out", "talk.wav")).size).toBe(
      44 + (13 + 2 * report.thinkingClipFrames) * 1920 * 2,
    )
  }, 240_000)

  const noWebGpu = built ? webGpuUnavailable() : "the bin is not built"
  if (noWebGpu !== undefined) console.log(`skipping the WebGPU graph-capture run: ${noWebGpu}`)
  it.skipIf(noWebGpu !== undefined)(
    `--device webgpu --graph-capture runs the fused LM step and Mimi from captured graphs${noWebGpu === undefined ? "" : ` (skipped: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)})`}`,
    () => {
      const cwd = configuredFolder("cli-capture-", [
        "conversation: { window_frames: 6 }",
        "sampling: { seed: 3 }",
      ])
      const captured = runBin(
        runArgs("gpu.wav", ["--max-seconds", "1", "--device", "webgpu", "--graph-capture"]),
        cwd,
      )
      expect(captured.status, captured.all).toBe(0)
      const report = readReport(path.join(cwd, "gpu.report.json"))
      expect(report.meta).toMatchObject({
        device: "webgpu",
        graphCapture: true,
        lm: { engine: "fused", provider: "webgpu" },
        codec: { encoder: "webgpu", decoder: "webgpu", form: "captured" },
      })
      expect(captured.stdout).toContain(
        "  device         requested webgpu; LM on webgpu (fused), Mimi on webgpu (captured)\n",
      )
      expect(captured.stderr).not.toContain("warning:")
      expect(report.inputFrames).toBe(13)
      const apart = runBin(
        runArgs("apart.wav", ["--max-seconds", "1", "--device", "webgpu"]),
        configuredFolder("cli-codec-cpu-", [
          "runtime: { codec_device: cpu, codec_threads: 1 }",
          "conversation: { window_frames: 6 }",
          "sampling: { seed: 3 }",
        ]),
      )
      expect(apart.status, apart.all).toBe(0)
      expect(apart.stdout).toContain(
        "  device         requested webgpu (Mimi cpu); LM on webgpu (fused), Mimi on cpu (host-state)\n",
      )
      const refused = runBin(runArgs("cpu.wav", ["--max-seconds", "1", "--graph-capture"]), cwd)
      expect(refused.status).toBe(1)
      expect(refused.all).toContain("runtime.graph_capture: needs device webgpu, the device is cpu")
    },
    240_000,
  )

  it("an invalid config stops before any model loads, naming the field (exit status 1)", () => {
    const cwd = tempDir("cli-bad-")
    fs.writeFileSync(path.join(cwd, "bad.yaml"), "conversation:\n  duration: abc\n")
    const run = runBin(["run", "--config", "bad.yaml", "--input", assets.helloWav, "--output", "o.wav"], cwd)
    expect(run.status).toBe(1)
    expect(run.all).toContain('conversation.duration: expected a number between 10 and 30, got "abc"')
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
  }, 60_000)

  it("missing input or output is a usage error", () => {
    const run = runBin(["run", "--output", "o.wav"], tempDir("cli-usage-"))
    expect(run.status).toBe(1)
    expect(run.all).toContain("give --input <file.wav> or --mic")
  }, 60_000)
})
