import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`skipping the benchmark's WebGPU test: ${noWebGpu}`)

describe.skipIf(noWebGpu !== undefined)("the benchmark on WebGPU with the user decode on the CPU", () => {
  it("measures both schedules: the user decode overlaps the LM step while the agent's codec is on the GPU, also with the codes on the device", () => {
    const child = runNodeIsolated([path.join(import.meta.dirname, "child/split-codec-webgpu.ts")], 240_000)
    expect(child).toMatchObject({ signal: null, status: 0 })
    expect(child.lines).toEqual([
      "codecs: webgpu cpu",
      "overlapped: 3 frames",
      "sequential: 3 frames",
      "codes on device: ok gqa-capture",
      "overlapped: 3 frames",
      "sequential: 3 frames",
    ])
  }, 300_000)
})
