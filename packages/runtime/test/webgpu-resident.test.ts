import { spawnSync } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { webGpuUnavailable } from "../src/index.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`skipping the WebGPU resident-pool test: ${noWebGpu}`)

const lifecycle = (...args: string[]) =>
  spawnSync(
    process.execPath,
    [path.join(import.meta.dirname, "child/webgpu-resident-lifecycle.ts"), ...args],
    {
      encoding: "utf8",
      timeout: 60_000,
      env: { XDG_RUNTIME_DIR: os.tmpdir(), ...process.env },
    },
  )

describe.skipIf(noWebGpu !== undefined)("resident pool on WebGPU", () => {
  it.each(["default", "disabled"])(
    "updates the pool's buffer in place run after run, and releases it without crashing (validation: %s)",
    (mode) => {
      const child = lifecycle(...(mode === "default" ? [] : [mode]))
      expect({ signal: child.signal, status: child.status, stderr: child.stderr.slice(-2000) }).toMatchObject(
        {
          signal: null,
          status: 0,
        },
      )
      expect(child.stdout.split("\n").filter((l) => l.length > 0)).toEqual([
        "before run 0: 0,0",
        "before run 1: 1,2",
        "before run 2: 2,4",
        "closed",
      ])
    },
  )

  it("hands the validation mode to onnxruntime (an unknown one is refused by name)", () => {
    const child = lifecycle("bogus")
    expect(child.status).not.toBe(0)
    expect(child.stderr).toMatch(/validation mode.*bogus/i)
  })
})
