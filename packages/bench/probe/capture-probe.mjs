// Step-by-step check of the runtime's device-resident state and WebGPU graph capture, each stage
// logged before it starts (a native crash leaves the last stage named): node capture-probe.mjs [ep]
import { BENCH_MODELS, convertWeights, openGpuLm, writeRandomBf16Checkpoint } from "@personaplex/bench"
import { lmCheckpointTensors } from "@personaplex/lm"
import { GraphBuilder, OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const ep = process.argv[2] ?? "webgpu"
const stage = (s) => console.error(`[probe] ${s}`)
const f32 = (...v) => ({ type: "float32", dims: [v.length], data: Float32Array.from(v) })

const adder = () => {
  const g = new GraphBuilder("add")
  const x = g.input("x", "float32", [2])
  const sum = g.op("Add", [g.input("acc", "float32", [2]), x])
  g.output(sum, "acc_out", "float32", [2])
  g.output(g.op("Mul", [sum, g.scalar(1)]), "y", "float32", [2])
  return g.toBytes()
}
const resident = { pool: "p", bindings: [{ input: "acc", output: "acc_out", type: "float32", dims: [2] }] }

const program = Effect.gen(function* () {
  const ort = yield* OrtSession
  stage("resident pool, uncaptured")
  const a = yield* ort.open({ model: adder(), resident, executionProviders: [ep] })
  for (let i = 0; i < 3; i++) stage(`run ${i}: y = ${[...(yield* a.run({ x: f32(i, 1) })).y.data]}`)
  stage("graph-captured session over the same pool")
  const c = yield* ort.open({ model: adder(), resident, executionProviders: [ep], graphCapture: true })
  for (let i = 0; i < 4; i++) stage(`captured run ${i}: y = ${[...(yield* c.run({ x: f32(10 + i, 2) })).y.data]}`)
  stage("uncaptured reads the pool after the captured adds (x = 0)")
  stage(`y = ${[...(yield* a.run({ x: f32(0, 0) })).y.data]}`)

  stage("tiny LM: gqa+capture vs gqa, greedy")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "probe-"))
  const config = BENCH_MODELS.tiny.lm
  const checkpoint = path.join(dir, "lm.safetensors")
  writeRandomBf16Checkpoint(checkpoint, lmCheckpointTensors(config))
  const w = yield* Effect.promise(() =>
    convertWeights({ checkpoint, config, precision: "int8", depformerSteps: 8, outDir: dir, workers: 0 }),
  )
  const tokens = []
  for (const graphCapture of [false, true]) {
    stage(`open (graphCapture ${graphCapture})`)
    const lm = yield* openGpuLm({
      config,
      context: 64,
      layout: w.layout,
      weightsFile: w.weightsFile,
      provider: ep,
      greedy: true,
      attention: ["gqa"],
      graphCapture,
    })
    stage(`opened: ${JSON.stringify(lm.opened)}`)
    const seen = []
    for (let t = 0; t < 6; t++) {
      const row = Int32Array.from({ length: 17 }, (_, k) => (t * 13 + k * 7) % config.card)
      const out = yield* lm.step(row)
      seen.push(`${out.textToken}:${[...out.audioTokens].join(",")}`)
    }
    stage(`tokens: ${seen.join(" ")}`)
    tokens.push(seen.join(" "))
  }
  stage(tokens[0] === tokens[1] ? "captured frames equal uncaptured" : "CAPTURED FRAMES DIFFER")
})

await Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: [ep] }))),
)
stage("done")
