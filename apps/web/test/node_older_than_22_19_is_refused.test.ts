import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// The server's entry point, run from source (Node 22 strips its types); it stops before importing the server.
const start = fileURLToPath(new URL("../src/start.ts", import.meta.url))
const builtStart = fileURLToPath(new URL("../dist/start.js", import.meta.url))
const pretend = (version: string) => [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:${JSON.stringify(version)}})`,
]

describe("personaplex-web on an old Node.js", () => {
  it("refuses Node 20 with the version found, the one needed and how to start it from the repository", () => {
    const run = spawnSync(process.execPath, [...pretend("20.11.0"), start, "--port", "0"], {
      encoding: "utf8",
      timeout: 60_000,
    })
    expect(run.status).toBe(1)
    expect(run.stdout).toBe("")
    const [error, ...hint] = run.stderr.trimEnd().split("\n")
    expect(error).toBe(
      `error: personaplex-web needs Node.js 22.19.0 or newer; this is Node.js 20.11.0 (${process.execPath}).`,
    )
    expect(hint.join("\n")).toContain("`npx --yes pnpm@12.4.2 --filter @personaplex/web start`")
  })
})

describe.skipIf(!fs.existsSync(builtStart))("personaplex-web --help (the built entry point)", () => {
  it("says that --voices takes release .pt voices besides voice caches and WAVs", () => {
    const run = spawnSync(process.execPath, [builtStart, "--help"], { encoding: "utf8", timeout: 60_000 })
    expect(run.status).toBe(0)
    const voices = run.stdout.split("\n").find((line) => line.trimStart().startsWith("--voices"))
    expect(voices).toContain(".pt")
    expect(voices).toContain(".safetensors")
    expect(voices).toContain(".wav")
  })
})
