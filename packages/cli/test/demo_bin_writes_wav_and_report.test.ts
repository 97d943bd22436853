import * as path from "node:path"
import { readWav } from "@personaplex/audio-io"
import { writeTinyLlamaGguf } from "@personaplex/compaction"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { built, readReport, runBin, sharedSmokeCache, tempDir } from "./support.ts"

describe.skipIf(!built)("personaplex demo (the built bin)", () => {
  it("runs the loop on smoke models, prints the summary, writes out.wav and the report", async () => {
    const cwd = tempDir("cli-demo-")
    const run = runBin(
      [
        "demo",
        "--window-seconds",
        "0.8",
        "--max-seconds",
        "2",
        "--cache-dir",
        sharedSmokeCache,
        "--out-dir",
        "demo-out",
      ],
      cwd,
    )
    expect(run.status, run.all).toBe(0)
    expect(run.stdout).toContain("SMOKE MODELS: random weights of the tiny Mimi and LM architectures")
    expect(run.stdout).toContain("Run completed")
    const outWav = path.join(cwd, "demo-out", "out.wav")
    const reportPath = path.join(cwd, "demo-out", "report.json")
    expect(run.stdout).toContain(outWav)
    expect(run.stdout).toContain(reportPath)

    const report = readReport(reportPath)
    expect(report.status).toBe("completed")
    expect(report.inputFrames).toBe(25) // --max-seconds 2
    expect(report.windows.map((w) => w.inputFrames)).toEqual([10, 10, 5]) // 0.8 s windows
    expect(report.windows.map((w) => w.promptSource)).toEqual(["initial", "model", "model"])
    expect(report.switches).toHaveLength(2)
    expect(report.meta).toMatchObject({ demo: true })

    const wav = await Effect.runPromise(readWav(outWav))
    expect(wav.sampleRate).toBe(24000)
    expect(wav.channels[0]!.length).toBe((25 + 2 * report.thinkingClipFrames) * 1920)
    expect(report.outputFrames).toBe(25 + 2 * report.thinkingClipFrames)
  }, 240_000)
})

describe.skipIf(!built)("personaplex demo with a local LLM for compaction", () => {
  it("--gguf compacts through node-llama-cpp (a tiny random GGUF)", () => {
    const cwd = tempDir("cli-demo-gguf-")
    writeTinyLlamaGguf(path.join(cwd, "tiny.gguf"), { contextLength: 4096 })
    const run = runBin(
      [
        "demo",
        "--gguf",
        "tiny.gguf",
        "--window-seconds",
        "0.8",
        "--max-seconds",
        "1.6",
        "--cache-dir",
        sharedSmokeCache,
      ],
      cwd,
    )
    expect(run.status, run.all).toBe(0)
    const report = readReport(path.join(cwd, "personaplex-demo", "report.json"))
    expect(report.meta).toMatchObject({ compactor: "LlamaCpp" })
    expect(report.switches).toHaveLength(1)
    // A random model's answer may be unusable: then the deterministic fallback stands in, with the reason.
    const compaction = report.switches[0]!.compaction
    if (compaction.source === "fallback") expect(compaction.reason).toBeTruthy()
    expect(report.windows[1]!.prompt).toMatch(/^<system> .* <system>$/)
  }, 240_000)
})
