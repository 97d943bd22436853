import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assets } from "@personaplex/audio-io"
import type { RunReport } from "@personaplex/loop"
import { ensureSmokeModels, type SmokeModels } from "@personaplex/stack"
import { Effect } from "effect"

export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
export const built = fs.existsSync(bin)
if (!built) console.log(`skipping the bin tests: ${bin} is not built (run pnpm build in packages/cli)`)

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** One smoke-model cache for all bin tests of a run (generation takes a second). */
export const sharedSmokeCache = path.join(os.tmpdir(), "personaplex-cli-test-smoke-models")

/** The smoke models in the shared cache, generated on first use. */
export const smokeModels = (): SmokeModels =>
  Effect.runSync(Effect.orDie(ensureSmokeModels(sharedSmokeCache)))

export interface BinOptions {
  /** Node's own options before the bin (e.g. `--import` of a preload). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Variables added to this process's. */
  readonly env?: Readonly<Record<string, string>>
  /** The Node that runs the bin (default: this one). */
  readonly node?: string
}

/** Runs the built bin to its end; `all` is stdout then stderr. */
export const runBin = (args: ReadonlyArray<string>, cwd: string, options: BinOptions = {}) => {
  const result = spawnSync(options.node ?? process.execPath, [...(options.nodeArgs ?? []), bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    timeout: 240_000,
  })
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.stdout + result.stderr,
  }
}

/** The arguments of `personaplex run` on `run.yaml` (`writeSmokeConfig`) from the shipped sample into `output`. */
export const runArgs = (
  output: string,
  more: ReadonlyArray<string> = [],
  input: string = assets.helloWav,
) => ["run", "--config", "run.yaml", "--input", input, "--output", output, ...more]

/** A run report as the CLI wrote it. */
export const readReport = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as RunReport

/** PATH without node_modules folders: what a user's shell finds (the machine's own Node and npx). */
export const machinePath = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((dir) => !dir.split(path.sep).includes("node_modules"))
  .join(path.delimiter)

/** The machine's own `node` (first on machinePath) and its version; undefined when there is none. */
export const machineNode = (): { readonly path: string; readonly version: string } | undefined => {
  const result = spawnSync("node", ["-p", "process.execPath + ' ' + process.versions.node"], {
    encoding: "utf8",
    env: { ...process.env, PATH: machinePath },
  })
  if (result.status !== 0) return undefined
  const [node, version] = result.stdout.trim().split(" ")
  return { path: node!, version: version! }
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
