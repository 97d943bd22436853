import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { built, pretendNodeVersion, runBinWith, tempDir } from "./support.ts"

describe("the Node.js version check of the built bin", () => {
  it.skipIf(!built)("the built bin refuses Node 20 before doing any work (exit status 1)", () => {
    const cwd = tempDir("cli-old-node-")
    const run = runBinWith(pretendNodeVersion("20.11.0"), ["demo", "--out-dir", "out"], cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /^error: personaplex needs Node\.js 22\.19\.0 or newer; this is Node\.js 20\.11\.0 /,
    )
    expect(run.stdout).toBe("")
    // nothing was generated or written: the demo never started
    expect(fs.readdirSync(cwd)).toEqual([])
  })
})
