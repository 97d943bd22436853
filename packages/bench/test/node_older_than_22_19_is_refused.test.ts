import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const pretendNode20 = [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.0"})`,
]
const entries = {
  cli: "cli.ts",
  compactor: "compactor-cli.ts",
  batch: "batch-cli.ts",
  diagnose: "diagnose.ts",
}

describe("the benchmark's entry points on an old Node.js", () => {
  it.each(Object.entries(entries))(
    "dist/%s.js refuses Node 20 before any work, naming the Node found and the way through the repository",
    (entry, source) => {
      // run from source (Node 22 strips the types), as dist/<entry>.js runs it
      const file = fileURLToPath(new URL(`../src/${source}`, import.meta.url))
      const run = spawnSync(
        process.execPath,
        [...pretendNode20, file, "--provider", "cpu", "--models", "tiny"],
        {
          encoding: "utf8",
          timeout: 120_000,
        },
      )
      expect(run.status, run.stdout + run.stderr).toBe(1)
      expect(run.stdout).toBe("")
      const [error, ...hint] = run.stderr.trimEnd().split("\n")
      expect(error).toBe(
        `error: packages/bench/dist/${entry}.js needs Node.js 22.19.0 or newer; this is Node.js 20.11.0 (${process.execPath}).`,
      )
      expect(hint.join("\n")).toContain(
        `\`npx --yes pnpm@12.4.2 exec node packages/bench/dist/${entry}.js ...\``,
      )
    },
    120_000,
  )
})
