import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runNodeIsolated, webGpuUnavailable } from "../src/index.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe) and the native shim built by
// `node scripts/build-native.mjs` (g++); skipped with the reason otherwise.
const shim = path.join(import.meta.dirname, "../native/build/ortOptionsShim.node")
const noWebGpu = webGpuUnavailable()
const skip =
  noWebGpu !== undefined
    ? `no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)}`
    : fs.existsSync(shim)
      ? undefined
      : `no ${shim} (needs g++)`
if (skip) console.log(`skipping the WebGPU graph-capture test: ${noWebGpu ?? skip}`)

describe.skipIf(skip !== undefined)(`WebGPU graph capture${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("replays the captured graphs with each run's feeds and state, runs live with other shapes, and refuses what a replay cannot do", () => {
    const child = runNodeIsolated([path.join(import.meta.dirname, "child/webgpu-graph-capture.ts")], 60_000)
    expect(child).toMatchObject({ signal: null, status: 0 })
    expect(child.lines).toEqual([
      "captured run 0: 1,5",
      "captured run 1: 3,5",
      "live run: 3,9",
      "captured run 2: 4,9",
      "other shape: true",
      // 3 captured runs | snapshot, a live run, a captured one | restore, +2 | reset, +5 | the state read.
      "state: 1,10 | 2,20 | 3,30 | 13,130 | 14,140 | 5,50 | 5,50 | 5,50",
      "live, free shape: 2,4,6",
      "captured, free output shape: true",
      'enableGraphCapture "bogus": refused by the WebGPU provider',
      "capturing run: 3,5",
      // A replay ignores the buffers it is given: it runs on the ones captured (here, the first feed).
      "replay fed another buffer: 3,5",
      "gpu_graph_id -1 fed another buffer: 11,13",
      "closed",
    ])
  })
})
