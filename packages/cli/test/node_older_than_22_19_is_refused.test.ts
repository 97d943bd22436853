import * as fs from "node:fs"
import { nodeIsRecentEnough } from "@personaplex/stack/node-version"
import { describe, expect, it } from "vitest"
import { built, machineNode, pretendNodeVersion, runBin, tempDir } from "./support.ts"

const machine = machineNode()
const oldMachineNode = machine !== undefined && !nodeIsRecentEnough(machine.version) ? machine : undefined
const noOldNode = `the machine's own Node is ${machine === undefined ? "missing" : `${machine.version}, not older than 22.19`}`
if (oldMachineNode === undefined) console.log(`skipping the run on a real old Node: ${noOldNode}`)

describe.skipIf(!built)("the Node.js version check of the built bin", () => {
  it("the built bin refuses Node 20 before doing any work (exit status 1)", () => {
    const cwd = tempDir("cli-old-node-")
    const run = runBin(["demo", "--out-dir", "out"], cwd, { nodeArgs: pretendNodeVersion("20.11.0") })
    expect(run.status).toBe(1)
    expect(run.stderr).toMatch(
      /^error: personaplex needs Node\.js 22\.19\.0 or newer; this is Node\.js 20\.11\.0 /,
    )
    expect(run.stdout).toBe("")
    // nothing was generated or written: the demo never started
    expect(fs.readdirSync(cwd)).toEqual([])
  })

  it.skipIf(oldMachineNode === undefined)(
    `the machine's own old Node (the issue's Node 20) gets the refusal, not onnxruntime's "Invalid argument"${oldMachineNode ? "" : ` (skipped: ${noOldNode})`}`,
    () => {
      const cwd = tempDir("cli-machine-node-")
      const run = runBin(["demo", "--out-dir", "out"], cwd, { node: oldMachineNode!.path })
      expect(run.status).toBe(1)
      expect(run.stderr.split("\n")[0]).toBe(
        `error: personaplex needs Node.js 22.19.0 or newer; this is Node.js ${oldMachineNode!.version} (${oldMachineNode!.path}).`,
      )
      expect(run.all).not.toContain("Invalid argument")
      expect(fs.readdirSync(cwd)).toEqual([])
    },
  )
})
