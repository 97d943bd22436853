// Run by webgpu-resident.test.ts in its own process: a crash in onnxruntime's native code must
// fail that test, not kill the test runner. Prints the pool's values, then "closed" once every
// session and buffer is released. An optional argument is the WebGPU validation mode of every session.
import { Effect } from "effect"
import { GraphBuilder, OrtSession, type WebGpuOptions } from "../../src/index.ts"

const validationMode = process.argv[2] as WebGpuOptions["validationMode"]

const adder = () => {
  const g = new GraphBuilder("add")
  const x = g.input("x", "float32", [2])
  const acc = g.input("acc", "float32", [2])
  g.output(g.op("Add", [acc, x]), "acc_out", "float32", [2])
  g.output(g.op("Mul", [acc, g.scalar(1)]), "before", "float32", [2])
  return g.toBytes()
}
const resident = {
  pool: "kv",
  bindings: [{ input: "acc", output: "acc_out", type: "float32" as const, dims: [2] }],
}

const program = Effect.gen(function* () {
  const ort = yield* OrtSession
  const add = yield* ort.open({ model: adder(), resident, disableCpuFallback: true })
  const x = { x: { type: "float32" as const, dims: [2], data: Float32Array.of(1, 2) } }
  for (let i = 0; i < 3; i++) {
    const out = yield* add.run(x)
    console.log(`before run ${i}: ${[...(out.before!.data as Float32Array)]}`)
  }
})

await Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(
      OrtSession.layer({
        executionProviders: ["webgpu"],
        ...(validationMode ? { webGpu: { validationMode } } : {}),
      }),
    ),
  ),
)
console.log("closed")
