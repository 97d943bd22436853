// When onnxruntime-node 1.30 fills a preallocated GPU output (a fetch given as a "gpu-buffer" tensor),
// which a WebGPU graph-capture replay needs (inputs staged into fixed device buffers, results read from
// them): a session created WITHOUT `preferredOutputLocation` for that output writes into the given
// buffer; one created with `preferredOutputLocation: "gpu-buffer"` ignores it and returns a new buffer.
// Runs on any WebGPU adapter (seen with Mesa 25 lavapipe and XDG_RUNTIME_DIR set):
//   node preallocated-fetch-probe.mjs
import { GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const addZero = (from, to) => {
  const g = new GraphBuilder("copy", 18)
  const x = g.input(from, "float32", [2])
  g.output(g.op("Add", [x, g.scalar(0)]), to, "float32", [2])
  return g.toBytes()
}
const session = (model, extra) =>
  ort.InferenceSession.create(model, { executionProviders: ["webgpu"], ...extra })
const preferringGpu = await session(addZero("x", "staged"), { preferredOutputLocation: "gpu-buffer" })
const plain = await session(addZero("x", "staged"), {})
const download = await session(addZero("staged", "host"), {})
const read = async (t) => [...(await download.run({ staged: t })).host.data]
const host = (a, b) => new ort.Tensor("float32", Float32Array.of(a, b), [2])

const fixed = (await preferringGpu.run({ x: host(1, 1) })).staged
await preferringGpu.run({ x: host(2, 3) }, { staged: fixed })
console.log(
  `session with preferredOutputLocation "gpu-buffer": preallocated buffer holds ${await read(fixed)} (asked for 2,3)`,
)
await plain.run({ x: host(4, 5) }, { staged: fixed })
console.log(
  `session without preferredOutputLocation:         preallocated buffer holds ${await read(fixed)} (asked for 4,5)`,
)
