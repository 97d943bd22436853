import * as fs from "node:fs"
import * as path from "node:path"
import { writeTinyMoonshine } from "@personaplex/transcriber"
import { describe, expect, it } from "vitest"
import { built, readReport, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

describe.skipIf(!built)("personaplex run with transcriber: on (the built bin)", () => {
  it("recognizes the user's speech with the configured Moonshine and writes the user's lines into the report", () => {
    const cwd = tempDir("cli-transcriber-")
    writeTinyMoonshine(path.join(cwd, "moonshine"))
    writeSmokeConfig(cwd, smokeModels(), [
      "runtime: { device: cpu, threads: 1 }",
      "conversation: { window_frames: 12 }",
      "sampling: { seed: 3 }",
      "transcriber:",
      "  model: moonshine   # relative to this file",
    ])
    const run = runBin(runArgs("out/talk.wav", ["--max-seconds", "2"]), cwd)
    expect(run.status, run.all).toBe(0)
    const report = readReport(path.join(cwd, "out", "talk.report.json"))
    expect(report.userTranscript).toMatchObject({
      family: "moonshine",
      model: path.join(cwd, "moonshine"),
      dtype: "fp32",
      failures: 0,
    })
    expect(report.userTranscript!.pieces).toBeGreaterThan(0)
    const userTurns = report.windows.flatMap((w) => (w.turns ?? []).filter((t) => t.speaker === "user"))
    expect(userTurns.length).toBe(report.userTranscript!.pieces)
    for (const turn of userTurns) {
      expect(turn.text.length).toBeGreaterThan(0)
      expect(turn.endMs).toBeGreaterThan(turn.startMs)
    }
    expect(report.transcript.split("\n").filter((l) => l.startsWith("User: "))).toHaveLength(userTurns.length)
  }, 240_000)

  it("refuses a transcriber folder without its decoder, naming the file, before the run starts", () => {
    const cwd = tempDir("cli-transcriber-missing-")
    writeTinyMoonshine(path.join(cwd, "moonshine"))
    fs.rmSync(path.join(cwd, "moonshine", "onnx", "decoder_model_merged.onnx"))
    writeSmokeConfig(cwd, smokeModels(), ["transcriber: { model: moonshine }"])
    const run = runBin(runArgs("out.wav", ["--max-seconds", "1"]), cwd)
    expect(run.status).toBe(1)
    expect(run.all).toContain("onnx/decoder_model_merged.onnx is missing from")
  }, 240_000)
})
