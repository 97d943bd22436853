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
