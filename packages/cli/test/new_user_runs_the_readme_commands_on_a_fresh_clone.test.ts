/**
 * The new user's path, as the READMEs write it, on a fresh clone: the install, `pnpm personaplex demo`
 * from the root, then `pnpm exec personaplex run` on the smoke models and `npx personaplex` from a
 * folder of the workspace. Everything runs as the user's shell would: the machine's own npx and Node
 * (PATH without node_modules folders: on the issue's machine Node 20), no variables of the pnpm and
 * turbo running this test. The clone gets this checkout's uncommitted files on top, so it is a fresh
 * clone of what is tested here; the install is offline (this machine's pnpm store) and the build
 * reuses this checkout's turbo cache, which only saves time.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { workspaceRoot } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { machinePath, readReport, tempDir, writeSmokeConfig } from "./support.ts"

const root = workspaceRoot(import.meta.dirname)
const pnpm = ["--yes", "pnpm@12.4.2"]

const userEnv: Record<string, string> = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !/^(npm_|PNPM_|TURBO_|VITEST|NODE_ENV$|NODE_OPTIONS$)/i.test(entry[0]),
    ),
  ),
  PATH: machinePath,
  NO_COLOR: "1",
  TURBO_CACHE_DIR: path.join(root, ".turbo", "cache"),
  TURBO_TELEMETRY_DISABLED: "1",
}

const sh = (command: string, args: ReadonlyArray<string>, cwd: string, timeoutS = 300) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: userEnv, timeout: timeoutS * 1000 })
  return {
    status: result.status,
    stdout: result.stdout ?? "",
    all: `$ ${command} ${args.join(" ")}\n${result.stdout ?? ""}${result.stderr ?? ""}${result.error ?? ""}`,
  }
}

const noGit = sh("git", ["-C", root, "rev-parse", "--is-inside-work-tree"], root).status !== 0
const noNpx = sh("npx", ["--version"], root).status !== 0
const skip = noGit
  ? `${root} is not a git checkout`
  : noNpx
    ? "no npx on PATH outside node_modules"
    : undefined
if (skip) console.log(`skipping the fresh-clone new-user path: ${skip}`)

/** A clone of this checkout with its uncommitted changes (modified, deleted, new and not ignored). */
const freshClone = (): string => {
  const clone = path.join(tempDir("cli-fresh-clone-"), "personaplex-ts")
  const cloned = sh("git", ["-c", "safe.directory=*", "clone", "--quiet", root, clone], root)
  expect(cloned.status, cloned.all).toBe(0)
  const changed = sh(
    "git",
    ["-C", root, "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
    root,
  )
  for (const file of new Set(changed.stdout.split("\0").filter((f) => f.length > 0))) {
    const from = path.join(root, file)
    const to = path.join(clone, file)
    if (fs.existsSync(from)) {
      fs.mkdirSync(path.dirname(to), { recursive: true })
      fs.copyFileSync(from, to)
    } else fs.rmSync(to, { force: true })
  }
  return clone
}

describe.skipIf(skip !== undefined)("a new user on a fresh clone, with the READMEs' commands", () => {
  it(`install, \`pnpm personaplex demo\`, then \`pnpm exec personaplex run\` and \`npx personaplex\` from a folder${skip ? ` (skipped: ${skip})` : ""}`, () => {
    const clone = freshClone()

    const install = sh("npx", [...pnpm, "install", "--frozen-lockfile", "--offline"], clone)
    expect(install.status, install.all).toBe(0)

    // builds the CLI and what it uses (cached after the first time), then runs the demo
    const demo = sh("npx", [...pnpm, "personaplex", "demo", "--max-seconds", "1"], clone, 900)
    expect(demo.status, demo.all).toBe(0)
    expect(demo.stdout).toContain("Run completed")
    expect(fs.statSync(path.join(clone, "personaplex-demo", "out.wav")).size).toBeGreaterThan(44)
    // where the READMEs say the smoke models are
    const smoke = path.join(clone, "packages", "cli", "node_modules", ".cache", "personaplex-demo")
    const assets = path.join(clone, "packages", "stack", "assets")
    const models = {
      mimi: path.join(smoke, "mimi-smoke.safetensors"),
      lm: path.join(smoke, "lm-smoke.safetensors"),
      tokenizer: path.join(assets, "tokenizer", "tiny.model"),
      mimiConfig: path.join(assets, "smoke", "mimi-tiny.json"),
      lmConfig: path.join(assets, "smoke", "lm-tiny.json"),
    }
    for (const file of Object.values(models)) expect(fs.existsSync(file), file).toBe(true)

    const folder = path.join(clone, "talks")
    fs.mkdirSync(folder)
    writeSmokeConfig(folder, models, ["runtime: { threads: 1 }", "conversation: { window_frames: 6 }"])
    const input = path.join(clone, "packages", "audio-io", "assets", "hello.wav")
    const run = sh(
      "npx",
      [
        ...pnpm,
        "exec",
        "personaplex",
        "run",
        "--config",
        "run.yaml",
        "--input",
        input,
        "--output",
        "talk.wav",
        "--max-seconds",
        "1",
      ],
      folder,
    )
    expect(run.status, run.all).toBe(0)
    const report = readReport(path.join(folder, "talk.report.json"))
    expect(report.status).toBe("completed")
    expect(report.inputFrames).toBe(13)
    expect(fs.statSync(path.join(folder, "talk.wav")).size).toBeGreaterThan(44)

    const version = sh("npx", ["personaplex", "--version"], folder)
    expect(version.status, version.all).toBe(0)
    expect(version.stdout).toMatch(/^personaplex v\d+\.\d+\.\d+/)
  }, 1_500_000)
})
