import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const dist = path.join(import.meta.dirname, "..", "dist")
const built = fs.existsSync(path.join(dist, "batch.js"))
const run = (entry: string, ...args: string[]) =>
  spawnSync(process.execPath, [path.join(dist, entry), ...args], { encoding: "utf8", timeout: 60_000 })

describe.skipIf(!built)("the benchmark's entry points (built dist)", () => {
  it.each(["cli.js", "batch.js"])(
    "%s: --help lists every flag with its default; an unknown flag exits 2 naming it",
    (entry) => {
      const help = run(entry, "--help")
      expect(help.status).toBe(0)
      expect(help.stdout).toContain("Flags:\n")
      expect(help.stdout).toContain("  --provider VALUE  (default webgpu)")
      const bad = run(entry, "--bogus")
      expect(bad.status).toBe(2)
      expect(bad.stderr).toContain("'--bogus'")
      expect(bad.stderr).toContain("Flags:\n")
    },
  )
})
