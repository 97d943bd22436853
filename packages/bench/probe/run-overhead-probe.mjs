// What a WebGPU session run costs the host around its kernels: the same 9 ArgMax kernels with their
// 9 int64 results downloaded one by one (as the LM step's tokens are) or packed as one float32 output
// (a Gather from an index table turns each int64 index into a float, then one Concat), and an empty-ish
// graph of one kernel for the fixed cost of a run. Prints ms per run (p50 of 300 runs).
// Runs on any WebGPU adapter (timings mean something only on a real GPU):
//   node run-overhead-probe.mjs
import { GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const N = 9
const graph = (packed) => {
  const g = new GraphBuilder("tokens", 18)
  const x = g.input("x", "float32", [1, 1, 64])
  const iota = g.constant(
    "float32",
    [64],
    Array.from({ length: 64 }, (_, i) => i),
    "iota",
  )
  const tokens = Array.from({ length: N }, (_, k) =>
    g.op("ArgMax", [g.op("Mul", [x, g.scalar(k + 1)])], { axis: -1, keepdims: 0 }),
  )
  if (packed)
    g.output(
      g.op(
        "Concat",
        tokens.map((t) => g.op("Gather", [iota, t], { axis: 0 })),
        { axis: 1 },
      ),
      "tokens",
      "float32",
      [1, N],
    )
  else for (const [k, t] of tokens.entries()) g.output(t, `token_${k}`, "int64", [1, 1])
  return g.toBytes()
}
const single = () => {
  const g = new GraphBuilder("one", 18)
  g.output(g.op("Neg", [g.input("x", "float32", [1, 1, 64])]), "y", "float32", [1, 1, 64])
  return g.toBytes()
}
const options = { executionProviders: ["webgpu"], extra: { session: { disable_cpu_ep_fallback: "1" } } }
const x = new ort.Tensor(
  "float32",
  Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)),
  [1, 1, 64],
)
const time = async (name, model) => {
  const session = await ort.InferenceSession.create(model, options)
  const ms = []
  for (let i = 0; i < 330; i++) {
    const t0 = performance.now()
    await session.run({ x })
    if (i >= 30) ms.push(performance.now() - t0)
  }
  ms.sort((a, b) => a - b)
  console.log(`${name.padEnd(44)} ${ms[Math.floor(ms.length / 2)].toFixed(3)} ms per run`)
  await session.release()
}
await time("one kernel, one output", single())
await time(`${N} ArgMax, ${N} int64 outputs`, graph(false))
await time(`${N} ArgMax + ${N} Gather + Concat, 1 output`, graph(true))
