import { spawn } from "node:child_process"
import * as path from "node:path"
import { readWav } from "@personaplex/audio-io"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { bin, built, readReport, runArgs, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

describe.skipIf(!built)("Ctrl-C during `personaplex run`", () => {
  it("stops cleanly: the WAV holds every frame written and the report is marked interrupted", async () => {
    const cwd = tempDir("cli-sigint-")
    writeSmokeConfig(cwd, smokeModels(), [
      "conversation: { window_frames: 8, pace: realtime, switch: fixed }",
    ])
    const child = spawn(process.execPath, [bin, ...runArgs("o.wav")], { cwd })
    let stdout = ""
    const exitCode = await new Promise<number | null>((resolve) => {
      child.stdout.on("data", (chunk) => {
        stdout += String(chunk)
        // Interrupt once the first window is over (the run is then mid-switch or in window 2).
        if (stdout.includes("■ window 1")) child.kill("SIGINT")
      })
      child.stderr.on("data", (chunk) => {
        stdout += String(chunk)
      })
      child.on("exit", (code) => resolve(code))
    })
    expect(stdout).toContain("■ window 1")
    expect(exitCode, stdout).not.toBe(0)
    expect(stdout).toContain("Run interrupted")
    const report = readReport(path.join(cwd, "o.report.json"))
    expect(report.status).toBe("interrupted")
    expect(report.windows.length).toBeGreaterThanOrEqual(1)
    expect(report.windows[0]!.inputFrames).toBe(8)
    const wav = await Effect.runPromise(readWav(path.join(cwd, "o.wav")))
    expect(wav.channels[0]!.length).toBe(report.outputFrames * 1920)
    expect(report.outputFrames).toBeGreaterThanOrEqual(8)
  }, 120_000)
})
