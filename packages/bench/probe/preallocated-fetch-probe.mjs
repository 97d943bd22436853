// Why the benchmark has no WebGPU graph capture: onnxruntime-node 1.30 does not fill a preallocated
// GPU output (a fetch given as a "gpu-buffer" tensor); it returns a new buffer instead, so inputs
// cannot be staged into fixed device buffers, nor results read from them, as a replay needs.
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
const options = (extra) => ({ executionProviders: ["webgpu"], ...extra })
const upload = await ort.InferenceSession.create(
  addZero("x", "staged"),
  options({ preferredOutputLocation: "gpu-buffer" }),
)
const download = await ort.InferenceSession.create(addZero("staged", "host"), options({}))
const read = async (t) => [...(await download.run({ staged: t })).host.data]
const host = (a, b) => new ort.Tensor("float32", Float32Array.of(a, b), [2])

const fixed = (await upload.run({ x: host(1, 1) })).staged
const returned = (await upload.run({ x: host(2, 3) }, { staged: fixed })).staged
console.log(`preallocated buffer after the run: ${await read(fixed)} (asked for 2,3)`)
console.log(`buffer onnxruntime returned:       ${await read(returned)}; same tensor: ${returned === fixed}`)
