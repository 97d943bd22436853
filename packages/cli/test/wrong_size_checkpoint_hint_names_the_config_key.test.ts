import type { SmokeModels } from "@personaplex/stack"
import { beforeAll, describe, expect, it } from "vitest"
import { built, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

describe.skipIf(!built)("a checkpoint of another size than the configured architecture", () => {
  let models: SmokeModels
  beforeAll(() => {
    models = smokeModels()
  })
  const run = (omit: string) => {
    const cwd = tempDir("cli-size-")
    writeSmokeConfig(cwd, models, [], [omit])
    return runBin(runArgs("o.wav"), cwd)
  }

  it("a tiny Mimi without model.mimi_config: the shape error, then a hint naming model.mimi_config", () => {
    const result = run("mimi_config")
    expect(result.status).toBe(1)
    const [error, hint] = result.stderr.trimEnd().split("\n")
    expect(error).toMatch(
      /^error: tensor "encoder\.model\.0\.conv\.conv\.weight" in .*: expected shape \[64,1,7\], found \[4,1,7\]$/,
    )
    expect(hint).toBe(
      `hint: ${models.mimi} holds a Mimi codec of another size than PersonaPlex's: give its architecture JSON (upstream layout) as model.mimi_config in the run configuration`,
    )
  }, 120_000)

  it("a tiny LM without model.lm_config: a hint naming model.lm_config", () => {
    const result = run("lm_config")
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("expected shape [2049,4096], found [2049,64]")
    expect(result.stderr).toContain(
      `hint: ${models.lm} holds an LM of another size than PersonaPlex's: give its architecture JSON (upstream layout) as model.lm_config in the run configuration`,
    )
  }, 120_000)
})
