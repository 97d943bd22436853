import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runNodeIsolated, webGpuUnavailable } from "../src/index.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`skipping the WebGPU resident-pool test: ${noWebGpu}`)
const why =
  noWebGpu === undefined
    ? ""
    : ` (skipped: no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)})`

const lifecycle = (...args: string[]) =>
  runNodeIsolated([path.join(import.meta.dirname, "child/webgpu-resident-lifecycle.ts"), ...args], 60_000)

describe.skipIf(noWebGpu !== undefined)(`resident pool on WebGPU${why}`, () => {
  it.each(["default", "disabled"])(
    "updates the pool's buffer in place run after run, and releases it without crashing (validation: %s)",
    (mode) => {
      const child = lifecycle(...(mode === "default" ? [] : [mode]))
      expect(child).toMatchObject({ signal: null, status: 0 })
      expect(child.lines).toEqual(["before run 0: 0,0", "before run 1: 1,2", "before run 2: 2,4", "closed"])
    },
  )

  it("hands the validation mode to onnxruntime (an unknown one is refused by name)", () => {
    const child = lifecycle("bogus")
    expect(child.status).not.toBe(0)
    expect(child.stderrTail).toMatch(/validation mode.*bogus/i)
  })
})
