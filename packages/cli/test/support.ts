import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
export const built = fs.existsSync(bin)
if (!built) console.log(`skipping the bin tests: ${bin} is not built (run pnpm build in packages/cli)`)

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** One smoke-model cache for all bin tests of a run (generation takes a second). */
export const sharedSmokeCache = path.join(os.tmpdir(), "personaplex-cli-test-smoke-models")

export const runBin = (args: ReadonlyArray<string>, cwd: string) => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 240_000,
  })
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.stdout + result.stderr,
  }
}

/** Runs the built bin under this Node with extra Node options (e.g. `--import` of a preload) and variables. */
export const runBinWith = (
  nodeArgs: ReadonlyArray<string>,
  args: ReadonlyArray<string>,
  cwd: string,
  env: Readonly<Record<string, string>> = {},
) => {
  const result = spawnSync(process.execPath, [...nodeArgs, bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 240_000,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A preload that makes this Node report another version (`process.versions.node`). */
export const pretendNodeVersion = (version: string) => [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:${JSON.stringify(version)}})`,
]

/**
 * `run.yaml` in `cwd` naming the smoke models (generated into the shared cache) and their configs,
 * followed by `lines`; `omit` leaves model keys out (e.g. "mimi_config").
 */
export const writeSmokeConfig = (
  cwd: string,
  models: {
    readonly mimi: string
    readonly lm: string
    readonly tokenizer: string
    readonly mimiConfig: string
    readonly lmConfig: string
  },
  lines: ReadonlyArray<string> = [],
  omit: ReadonlyArray<string> = [],
) => {
  const model = Object.entries({
    mimi: models.mimi,
    lm: models.lm,
    tokenizer: models.tokenizer,
    mimi_config: models.mimiConfig,
    lm_config: models.lmConfig,
  })
    .filter(([key]) => !omit.includes(key))
    .map(([key, value]) => `  ${key}: ${value}`)
  const file = path.join(cwd, "run.yaml")
  fs.writeFileSync(file, ["model:", ...model, ...lines, ""].join("\n"))
  return file
}
