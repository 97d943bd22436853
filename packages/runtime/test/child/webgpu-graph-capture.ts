// Run by webgpu-graph-capture.test.ts in its own process (a native crash must fail the test, not
// the runner). Prints one line per check; the test compares them.
import { Effect } from "effect"
import * as ort from "onnxruntime-node"
import { GraphBuilder, OrtSession } from "../../src/index.ts"
import { runConfig, withWebGpuProviderOptions } from "../../src/ortOptionsShim.ts"
import { f32, values } from "../support/floats.ts"

// The capturing run executes the graph more than once (onnxruntime runs it again to capture it), so
// the in-place update here is idempotent, as a KV cache write at a position is: a running maximum.
// Each output comes from a node nothing else reads (see `WebGpuOptions.graphCapture`).
const maximum = () => {
  const g = new GraphBuilder("max")
  const [peak, x] = [g.input("peak", "float32", [2]), g.input("x", "float32", [2])]
  g.output(g.op("Max", [peak, x]), "peak_out", "float32", [2])
  g.output(g.op("Max", [x, peak]), "now", "float32", [2])
  return g.toBytes()
}
// A streaming step: the state is read and written each run (not idempotent, hence two buffer sets).
const accumulator = () => {
  const g = new GraphBuilder("acc")
  const [acc, x] = [g.input("acc", "float32", [2]), g.input("x", "float32", [2])]
  g.output(g.op("Add", [acc, x]), "acc_out", "float32", [2])
  g.output(g.op("Add", [x, acc]), "total", "float32", [2])
  return g.toBytes()
}
const doubler = () => {
  const g = new GraphBuilder("double")
  g.output(g.op("Mul", [g.input("x", "float32", ["n"]), g.scalar(2)]), "y", "float32", ["n"])
  return g.toBytes()
}

// Through OrtSession: captured runs with new feeds each time, a live run between them, the errors.
const program = Effect.gen(function* () {
  const session = yield* OrtSession
  const max = yield* session.open({
    model: maximum(),
    resident: { pool: "peak", bindings: [{ input: "peak", output: "peak_out", type: "float32", dims: [2] }] },
    disableCpuFallback: true,
    webGpu: { graphCapture: true },
  })
  const now = (out: Record<string, { data: unknown }>) => values(out.now!)
  console.log(`captured run 0: ${now(yield* max.run({ x: f32(1, 5) }))}`)
  console.log(`captured run 1: ${now(yield* max.run({ x: f32(3, 2) }))}`)
  console.log(`live run: ${now(yield* max.run({ x: f32(0, 9) }, undefined, { live: true }))}`)
  console.log(`captured run 2: ${now(yield* max.run({ x: f32(4, 4) }))}`)
  const wrongShape = yield* Effect.flip(max.run({ x: f32(1, 1, 1) }))
  console.log(`other shape: ${wrongShape.message.includes("was float32[2], now float32[3]")}`)
  // Recurrent state (`state` bindings): two fixed buffer sets, one captured graph per direction.
  const acc = yield* session.open({
    model: accumulator(),
    state: [{ input: "acc", output: "acc_out", type: "float32", dims: [2] }],
    disableCpuFallback: true,
    webGpu: { graphCapture: true },
  })
  const total = function* (x: number, live = false) {
    return values((yield* acc.run({ x: f32(x, 10 * x) }, undefined, { live })).total!)
  }
  const seen = [yield* total(1), yield* total(1), yield* total(1)]
  yield* acc.snapshotState("three")
  seen.push(yield* total(10, true), yield* total(1))
  yield* acc.restoreState("three")
  seen.push(yield* total(2))
  yield* acc.resetState
  seen.push(yield* total(5), values((yield* acc.readState).acc!))
  console.log(`state: ${seen.join(" | ")}`)
  const double = yield* session.open({
    model: doubler(),
    disableCpuFallback: true,
    webGpu: { graphCapture: true },
  })
  console.log(
    `live, free shape: ${values((yield* double.run({ x: f32(1, 2, 3) }, undefined, { live: true })).y!)}`,
  )
  const unfixed = yield* Effect.flip(double.run({ x: f32(1, 2, 3) }))
  console.log(`captured, free output shape: ${unfixed.message.includes("y is [n]")}`)
})
await Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: ["webgpu"] }))),
)

// Straight onnxruntime: the option reaches the provider, and a replay really ignores its feeds.
const copy = () => {
  const g = new GraphBuilder("copy")
  g.output(g.op("Identity", [g.input("a", "float32", [2])]), "b", "float32", [2])
  return g.toBytes()
}
const affine = () => {
  const g = new GraphBuilder("affine")
  g.output(
    g.op("Add", [g.op("Mul", [g.input("x", "float32", [2]), g.scalar(2)]), g.scalar(1)]),
    "y",
    "float32",
    [2],
  )
  return g.toBytes()
}
const webgpu = { executionProviders: ["webgpu"] }
const refused = await withWebGpuProviderOptions([["enableGraphCapture", "bogus"]], () =>
  ort.InferenceSession.create(affine(), webgpu),
).then(
  () => "accepted",
  (e: Error) =>
    e.message.includes("webgpu_provider_factory") ? "refused by the WebGPU provider" : e.message,
)
console.log(`enableGraphCapture "bogus": ${refused}`)
const captured = await withWebGpuProviderOptions([["enableGraphCapture", "1"]], () =>
  ort.InferenceSession.create(affine(), webgpu),
)
const maker = await ort.InferenceSession.create(copy(), { ...webgpu, preferredOutputLocation: "gpu-buffer" })
const reader = await ort.InferenceSession.create(copy(), webgpu)
const host = (a: number, b: number) => new ort.Tensor("float32", Float32Array.of(a, b), [2])
const onDevice = async (a: number, b: number) => (await maker.run({ a: host(a, b) })).b!
const read = async (t: ort.Tensor) => values((await reader.run({ a: t })).b!)
const [first, second, out] = [await onDevice(1, 2), await onDevice(5, 6), await onDevice(0, 0)]
await captured.run({ x: first }, { y: out })
console.log(`capturing run: ${await read(out)}`)
await captured.run({ x: second }, { y: out })
console.log(`replay fed another buffer: ${await read(out)}`)
await captured.run({ x: second }, { y: out }, runConfig({ gpu_graph_id: "-1" }))
console.log(`gpu_graph_id -1 fed another buffer: ${await read(out)}`)
for (const t of [first, second, out]) t.dispose()
for (const s of [captured, maker, reader]) await s.release()
console.log("closed")
