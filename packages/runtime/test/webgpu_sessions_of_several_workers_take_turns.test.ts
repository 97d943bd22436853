import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runNodeIsolated, webGpuUnavailable } from "../src/index.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
const why =
  noWebGpu === undefined
    ? ""
    : ` (skipped: no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)})`

describe.skipIf(noWebGpu !== undefined)(`WebGPU sessions of several workers${why}`, () => {
  it("take turns on the one device: concurrent opens and runs from three workers all succeed", () => {
    const child = runNodeIsolated(
      [path.join(import.meta.dirname, "child/webgpu-several-workers.ts")],
      120_000,
    )
    expect(child.lines).toEqual(["runs: 180"])
    expect(child).toMatchObject({ signal: null, status: 0 })
  })
})
