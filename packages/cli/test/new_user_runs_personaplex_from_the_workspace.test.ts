import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import type { RunReport } from "@personaplex/loop"
import { workspaceRoot } from "@personaplex/runtime"
import { ensureSmokeModels } from "@personaplex/stack"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { built, sharedSmokeCache, tempDir, writeSmokeConfig } from "./support.ts"

// What `pnpm exec personaplex` and `npx personaplex` run inside the workspace after the README's install.
const root = workspaceRoot(import.meta.dirname)
const shim = path.join(root, "node_modules", ".bin", "personaplex")
const ready = built && fs.existsSync(shim)
if (!ready)
  console.log(`skipping the new-user path: ${built ? `${shim} is missing (pnpm install)` : "bin not built"}`)

const personaplex = (args: ReadonlyArray<string>, cwd: string) => {
  const result = spawnSync(shim, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 240_000,
  })
  return { status: result.status, stdout: result.stdout, all: result.stdout + result.stderr }
}

describe.skipIf(!ready)("a new user in the workspace runs the `personaplex` command", () => {
  it("the root package gives the command: a dev dependency on the CLI and a `personaplex` script", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
    expect(manifest.devDependencies["@personaplex/cli"]).toBe("workspace:*")
    expect(manifest.scripts.personaplex).toMatch(
      /turbo run build --filter @personaplex\/cli\.\.\. .*&& personaplex$/,
    )
  })

  it("--version, then the demo, then `personaplex run` on the smoke models, from any folder", () => {
    const cwd = tempDir("cli-new-user-")
    const version = personaplex(["--version"], cwd)
    expect(version.status, version.all).toBe(0)
    expect(version.stdout).toMatch(/^personaplex v\d+\.\d+\.\d+/)

    const demo = personaplex(["demo", "--max-seconds", "1", "--cache-dir", sharedSmokeCache], cwd)
    expect(demo.status, demo.all).toBe(0)
    expect(demo.stdout).toContain("Run completed")
    expect(fs.existsSync(path.join(cwd, "personaplex-demo", "out.wav"))).toBe(true)

    const models = Effect.runSync(Effect.orDie(ensureSmokeModels(sharedSmokeCache)))
    writeSmokeConfig(cwd, models, ["runtime: { threads: 1 }", "conversation: { window_frames: 6 }"])
    const run = personaplex(
      [
        "run",
        "--config",
        "run.yaml",
        "--input",
        assets.helloWav,
        "--output",
        "talk.wav",
        "--max-seconds",
        "1",
      ],
      cwd,
    )
    expect(run.status, run.all).toBe(0)
    const report = JSON.parse(fs.readFileSync(path.join(cwd, "talk.report.json"), "utf8")) as RunReport
    expect(report.status).toBe("completed")
    expect(report.inputFrames).toBe(13)
    expect(fs.statSync(path.join(cwd, "talk.wav")).size).toBeGreaterThan(44)
  }, 240_000)
})
