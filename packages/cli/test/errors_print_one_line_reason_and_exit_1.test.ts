import * as fs from "node:fs"
import * as path from "node:path"
import { assets, writeWav } from "@personaplex/audio-io"
import { LmWeightsError } from "@personaplex/lm"
import type { SmokeModels } from "@personaplex/stack"
import { Cause, Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { CommandFailed, formatFailure } from "../src/commands/failure.ts"
import { built, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

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
    models = smokeModels()
  })

  it("--output below a file is one `error:` line naming both paths, exit status 1, no ERROR dump", () => {
    const cwd = tempDir("cli-below-file-")
    writeSmokeConfig(cwd, models)
    fs.writeFileSync(path.join(cwd, "some-file.wav"), "x")
    const run = runBin(runArgs("some-file.wav/out.wav"), cwd)
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
    const run = runBin(runArgs("o.wav", [], "cut.wav"), cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /^error: .*cut\.wav is truncated: its data chunk declares \d+ bytes of audio, the file holds 56\n$/,
    )
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
  }, 120_000)

  it("a WAV shorter than one 80 ms frame is refused with its length, not run as nothing", async () => {
    const cwd = tempDir("cli-short-")
    writeSmokeConfig(cwd, models)
    const short = path.join(cwd, "short.wav")
    await Effect.runPromise(writeWav(short, { sampleRate: 24000, channels: [new Float32Array(1000)] }))
    const run = runBin(runArgs("o.wav", [], "short.wav"), cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(
      `error: ${short} holds 1000 samples at 24 kHz (41.7 ms), less than one 80 ms frame (1920 samples)\n`,
    )
    expect(fs.existsSync(path.join(cwd, "o.wav"))).toBe(false)
  }, 120_000)

  it("an LM file that is not a checkpoint is named as the file, once", () => {
    const cwd = tempDir("cli-lm-garbage-")
    const lm = path.join(cwd, "lm.safetensors")
    fs.writeFileSync(lm, "not a checkpoint at all")
    writeSmokeConfig(cwd, { ...models, lm })
    const run = runBin(runArgs("o.wav"), cwd)
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(new RegExp(`^error: LM checkpoint ${lm}: \\S`))
    expect(run.stderr.split(lm)).toHaveLength(2)
    expect(run.stderr).not.toContain('tensor "(file)"')
  }, 120_000)

  it("a usage error is an `error:` line too", () => {
    const run = runBin(["run", "--bogus"], tempDir("cli-flag-"))
    expect(run.status).toBe(1)
    expect(run.stderr).toBe("error: Unrecognized flag: --bogus in command personaplex run\n")
  }, 60_000)

  it("--device cuda is not offered (the npm onnxruntime has no CUDA provider): one line naming the choices", () => {
    const run = runBin(
      ["run", "--device", "cuda", "--input", "in.wav", "--output", "o.wav"],
      tempDir("cli-cuda-"),
    )
    expect(run.status).toBe(1)
    expect(run.stderr).toBe('error: Invalid value for flag --device: "cuda". Expected: "cpu" | "webgpu"\n')
  }, 60_000)
})
