import { describe, expect, it } from "vitest"
import { built, runBin, tempDir } from "./support.ts"

describe.skipIf(!built)("personaplex run --help (the built bin)", () => {
  it("says that --voice takes a release .pt besides a WAV and a voice cache", () => {
    const run = runBin(["run", "--help"], tempDir("cli-help-"))
    expect(run.status).toBe(0)
    const voice = run.stdout.split("\n").find((line) => line.trimStart().startsWith("--voice "))
    expect(voice).toMatch(/\.pt/)
    expect(voice).toMatch(/WAV/)
    expect(voice).toMatch(/voice cache/)
  }, 60_000)
})
