import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

// The entry points' sources, run by Node's own type stripping (the dist is built after the tests).
const src = path.join(import.meta.dirname, "..", "src")
const run = (entry: string, ...args: string[]) =>
  spawnSync(process.execPath, [path.join(src, entry), ...args], { encoding: "utf8", timeout: 60_000 })

describe("the benchmark's entry points", () => {
  it.each(["cli.ts", "batch-cli.ts", "compactor-cli.ts", "codec-batch-cli.ts"])(
    "%s: --help lists every flag with its default; an unknown flag exits 2 naming it",
    (entry) => {
      const help = run(entry, "--help")
      expect(help.status, help.stderr).toBe(0)
      expect(help.stdout).toContain("Flags:\n")
      expect(help.stdout).toContain("  --out VALUE  (default ")
      const bad = run(entry, "--bogus")
      expect(bad.status).toBe(2)
      expect(bad.stderr).toContain("'--bogus'")
      expect(bad.stderr).toContain("Flags:\n")
    },
  )
})
