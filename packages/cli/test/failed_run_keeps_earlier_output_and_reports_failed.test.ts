import * as fs from "node:fs"
import * as path from "node:path"
import type { SmokeModels } from "@personaplex/stack"
import { beforeAll, describe, expect, it } from "vitest"
import { built, readReport, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

describe.skipIf(!built)("a failed `personaplex run` (the built bin)", () => {
  let models: SmokeModels
  beforeAll(() => {
    models = smokeModels()
  })

  it("a bad input after a good run keeps the good WAV and reports failed, not the earlier completed", () => {
    const cwd = tempDir("cli-keep-")
    writeSmokeConfig(cwd, models, ["runtime: { threads: 1 }", "conversation: { window_frames: 6 }"])
    const good = runBin(runArgs("keep.wav", ["--max-seconds", "1"]), cwd)
    expect(good.status, good.stdout + good.stderr).toBe(0)
    const goodWav = fs.readFileSync(path.join(cwd, "keep.wav"))
    expect(goodWav.length).toBeGreaterThan(44)
    expect(readReport(path.join(cwd, "keep.report.json")).status).toBe("completed")

    fs.writeFileSync(path.join(cwd, "not-a-wav.wav"), "plain text, not audio")
    const bad = runBin(runArgs("keep.wav", [], "not-a-wav.wav"), cwd)
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain(`error: ${path.join(cwd, "not-a-wav.wav")} is not a valid WAV file`)
    expect(fs.readFileSync(path.join(cwd, "keep.wav")).equals(goodWav)).toBe(true)
    const report = readReport(path.join(cwd, "keep.report.json"))
    expect(report.status).toBe("failed")
    expect(report.error).toContain("is not a valid WAV file")
    expect(report.outputFrames).toBe(0)
    expect(report.meta).toMatchObject({ input: path.join(cwd, "not-a-wav.wav"), endedWhile: "loading" })
    expect(bad.stdout).toContain(`no audio produced, ${path.join(cwd, "keep.wav")} not written`)
    // no temporary WAV is left beside it
    expect(fs.readdirSync(cwd).sort()).toEqual(["keep.report.json", "keep.wav", "not-a-wav.wav", "run.yaml"])
  }, 240_000)

  it("a missing input file creates no WAV and writes a failed report naming the file", () => {
    const cwd = tempDir("cli-missing-")
    writeSmokeConfig(cwd, models)
    const run = runBin(runArgs("o.wav", [], "absent.wav"), cwd)
    expect(run.status).toBe(1)
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
    const report = readReport(path.join(cwd, "o.report.json"))
    expect(report.status).toBe("failed")
    expect(report.error).toBe(`audio file not found: ${path.join(cwd, "absent.wav")} (ENOENT)`)
  }, 120_000)

  it("a model that fails to load writes a failed report with the reason and the model files", () => {
    const cwd = tempDir("cli-model-fails-")
    writeSmokeConfig(cwd, models, [], ["mimi_config"])
    const run = runBin(runArgs("o.wav"), cwd)
    expect(run.status).toBe(1)
    const report = readReport(path.join(cwd, "o.report.json"))
    expect(report.status).toBe("failed")
    expect(report.error).toMatch(/expected shape \[64,1,7\], found \[4,1,7\]/)
    expect(report.meta).toMatchObject({ models: { mimi: models.mimi, lm: models.lm } })
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
  }, 120_000)
})
