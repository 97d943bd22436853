import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`skipping the benchmark's WebGPU test: ${noWebGpu}`)

describe.skipIf(noWebGpu !== undefined)("the benchmark on WebGPU with the user decode on the CPU", () => {
  it("measures both schedules through LmGen's fused engine, live and captured: the user decode overlaps the LM step while the agent's codec is on the GPU", () => {
    const child = runNodeIsolated([path.join(import.meta.dirname, "child/split-codec-webgpu.ts")], 240_000)
    expect(child).toMatchObject({ signal: null, status: 0 })
    expect(child.lines).toEqual([
      "codecs: webgpu cpu",
      "gqa: ok fused built",
      "overlapped: 3 frames",
      "sequential: 3 frames",
      "gqa-capture: ok fused cache",
      "overlapped: 3 frames",
      "sequential: 3 frames",
    ])
  }, 300_000)
})
