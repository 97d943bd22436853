import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { nodeIsRecentEnough } from "@personaplex/stack/node-version"
import { describe, expect, it } from "vitest"

// The server's entry point, run from source (Node 22 strips its types); it stops before importing the server.
const start = fileURLToPath(new URL("../src/start.ts", import.meta.url))
const builtStart = fileURLToPath(new URL("../dist/start.js", import.meta.url))
const pretend = (version: string) => [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:${JSON.stringify(version)}})`,
]

// The machine's own `node` (PATH without node_modules folders), where it is older than 22.19.
const machinePath = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((dir) => !dir.split(path.sep).includes("node_modules"))
  .join(path.delimiter)
const machine = spawnSync("node", ["-p", "process.execPath + ' ' + process.versions.node"], {
  encoding: "utf8",
  env: { ...process.env, PATH: machinePath },
})
const [machineNode, machineVersion] = machine.status === 0 ? machine.stdout.trim().split(" ") : []
const oldMachineNode = machineVersion !== undefined && !nodeIsRecentEnough(machineVersion)
const noOldNode = `the machine's own Node is ${machineVersion ?? "missing"}, not older than 22.19`
if (!oldMachineNode) console.log(`skipping personaplex-web on a real old Node: ${noOldNode}`)

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

  it.skipIf(!fs.existsSync(builtStart) || !oldMachineNode)(
    `the built server on the machine's own old Node (the issue's Node 20) gets the refusal${oldMachineNode ? "" : ` (skipped: ${noOldNode})`}`,
    () => {
      const run = spawnSync(machineNode!, [builtStart, "--port", "0"], { encoding: "utf8", timeout: 60_000 })
      expect(run.status).toBe(1)
      expect(run.stderr.split("\n")[0]).toBe(
        `error: personaplex-web needs Node.js 22.19.0 or newer; this is Node.js ${machineVersion} (${machineNode}).`,
      )
    },
  )
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
