// First step toward a WebGPU graph-captured LM step in onnxruntime-node 1.30: host inputs staged into a
// fixed device buffer by a plain copy session (no `preferredOutputLocation`, so it fills the given
// buffer), a session created with `enableGraphCapture` run on fixed device inputs and outputs, results
// read back. Prints the output for four different inputs; each must follow its input.
// Seen on Mesa 25 lavapipe: outputs follow inputs, but with `logSeverityLevel: 0` the kernel is
// "Starting program" on every run, i.e. no replay was observed yet (onnxruntime's graph-capture
// conditions or option spelling still to pin down; PRs microsoft/onnxruntime#24900, #25367).
// Runs on any WebGPU adapter (XDG_RUNTIME_DIR set):
//   node graph-capture-probe.mjs
import { GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const unary = (from, to, op, extra = []) => {
  const g = new GraphBuilder(op, 18)
  const x = g.input(from, "float32", [2])
  g.output(g.op(op, [x, ...extra.map((v) => g.scalar(v))]), to, "float32", [2])
  return g.toBytes()
}
const session = (model, extra = {}) =>
  ort.InferenceSession.create(model, { executionProviders: ["webgpu"], ...extra })
const stage = await session(unary("x", "staged", "Add", [0]))
const captured = await session(unary("staged", "doubled", "Mul", [2]), {
  extra: { ep: { webgpuexecutionprovider: { enableGraphCapture: "1" } } },
})
const download = await session(unary("doubled", "host", "Add", [0]))
const host = (a, b) => new ort.Tensor("float32", Float32Array.of(a, b), [2])
const made = await session(unary("x", "y", "Add", [0]), { preferredOutputLocation: "gpu-buffer" })
const staged = (await made.run({ x: host(0, 0) })).y
const doubled = (await made.run({ x: host(0, 0) })).y

for (const [a, b] of [
  [1, 2],
  [3, 4],
  [5, 6],
  [7, 8],
]) {
  await stage.run({ x: host(a, b) }, { staged })
  await captured.run({ staged }, { doubled })
  const out = (await download.run({ doubled })).host.data
  console.log(`input ${a},${b} → captured output ${[...out]} (expected ${2 * a},${2 * b})`)
}
