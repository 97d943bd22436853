// Run by webgpu_sessions_of_several_workers_take_turns.test.ts in its own process: three OrtSession layers
// (a worker thread each) run WebGPU sessions at the same time, as the web server's codec worker and LM
// worker do for two conversations. Prints the runs that succeeded, or the first failure.
import { Effect } from "effect"
import { GraphBuilder, OrtSession } from "../../src/index.ts"

const RUNS = 60
const N = 256

const chain = () => {
  const g = new GraphBuilder("chain")
  let x = g.input("x", "float32", [N, N])
  const w = g.input("w", "float32", [N, N])
  for (let i = 0; i < 8; i++) x = g.op("MatMul", [x, w])
  g.output(x, "y", "float32", [N, N])
  return g.toBytes()
}

const feeds = {
  x: { type: "float32" as const, dims: [N, N], data: new Float32Array(N * N).fill(1 / N) },
  w: { type: "float32" as const, dims: [N, N], data: new Float32Array(N * N).fill(1 / N) },
}

// Each worker opens its session while the other may be running, then runs RUNS times.
const worker = Effect.gen(function* () {
  const ort = yield* OrtSession
  const session = yield* ort.open({ model: chain(), disableCpuFallback: true })
  for (let i = 0; i < RUNS; i++) yield* session.run(feeds)
  return RUNS
}).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: ["webgpu"] })))

const runs = await Effect.runPromise(
  Effect.all([worker, worker, worker], { concurrency: "unbounded" }).pipe(
    Effect.map((counts) => counts.reduce((a, b) => a + b, 0)),
    Effect.catch((e) => Effect.succeed(`failed: ${String(e.message ?? e).split("\n")[0]}`)),
  ),
)
console.log(`runs: ${runs}`)
