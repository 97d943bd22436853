import * as fs from "node:fs"
import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import { LmWeightsError } from "@personaplex/lm"
import { ensureSmokeModels, type SmokeModels } from "@personaplex/stack"
import { Cause, Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { CommandFailed, formatFailure } from "../src/commands/failure.ts"
import { built, runBin, sharedSmokeCache, tempDir, writeSmokeConfig } from "./support.ts"

describe("formatFailure: one `error:` line per failure, a `hint:` line where one helps", () => {
  it("a thrown library error (a defect) is its message, not a stack", () => {
    const thrown = new Error("EEXIST: file already exists, mkdir '/x/keep.wav'")
    expect(formatFailure(Cause.die(thrown))).toBe("error: EEXIST: file already exists, mkdir '/x/keep.wav'")
  })

  it("a typed error keeps its hint, and a reason of several lines continues indented", () => {
    const failed = new CommandFailed({ message: "invalid settings:\na\nb", hint: "see the README" })
    expect(formatFailure(Cause.fail(failed))).toBe("error: invalid settings:\n  a\n  b\nhint: see the README")
  })

  it('an LM error about the whole file names the file, not tensor "(file)"', () => {
    const error = new LmWeightsError({
      checkpoint: "/w/lm.safetensors",
      tensor: "(file)",
      reason: "not safetensors",
    })
    expect(formatFailure(Cause.fail(error))).toBe("error: LM checkpoint /w/lm.safetensors: not safetensors")
  })

  it("interruption prints nothing (the run summary says interrupted)", () => {
    expect(formatFailure(Cause.interrupt())).toBeUndefined()
  })
})

describe.skipIf(!built)("the built bin's failures", () => {
  let models: SmokeModels
  beforeAll(() => {
    models = Effect.runSync(Effect.orDie(ensureSmokeModels(sharedSmokeCache)))
  })

  it("--output below a file is one `error:` line naming both paths, exit status 1, no ERROR dump", () => {
    const cwd = tempDir("cli-below-file-")
    writeSmokeConfig(cwd, models)
    fs.writeFileSync(path.join(cwd, "some-file.wav"), "x")
    const run = runBin(
      ["run", "--config", "run.yaml", "--input", assets.helloWav, "--output", "some-file.wav/out.wav"],
      cwd,
    )
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(
      `error: output file ${path.join(cwd, "some-file.wav", "out.wav")}: ${path.join(cwd, "some-file.wav")} is a file, not a folder\n`,
    )
    expect(run.all).not.toMatch(/ERROR|EEXIST|at Module/)
  }, 120_000)

  it("a WAV truncated to 100 bytes is refused (exit status 1), not run as one frame", () => {
    const cwd = tempDir("cli-truncated-")
    writeSmokeConfig(cwd, models)
    fs.writeFileSync(path.join(cwd, "cut.wav"), fs.readFileSync(assets.helloWav).subarray(0, 100))
    const run = runBin(["run", "--config", "run.yaml", "--input", "cut.wav", "--output", "o.wav"], cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /^error: .*cut\.wav is truncated: its data chunk declares \d+ bytes of audio, the file holds 56\n$/,
    )
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
  }, 120_000)

  it("an LM file that is not a checkpoint is named as the file", () => {
    const cwd = tempDir("cli-lm-garbage-")
    const lm = path.join(cwd, "lm.safetensors")
    fs.writeFileSync(lm, "not a checkpoint at all")
    writeSmokeConfig(cwd, { ...models, lm })
    const run = runBin(["run", "--config", "run.yaml", "--input", assets.helloWav, "--output", "o.wav"], cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(new RegExp(`^error: LM checkpoint ${lm}: `))
    expect(run.stderr).not.toContain('tensor "(file)"')
  }, 120_000)

  it("a usage error is an `error:` line too", () => {
    const run = runBin(["run", "--bogus"], tempDir("cli-flag-"))
    expect(run.status).toBe(1)
    expect(run.stderr).toBe("error: Unrecognized flag: --bogus in command personaplex run\n")
  }, 60_000)
})
