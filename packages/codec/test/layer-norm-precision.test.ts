import { OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { StepGraph } from "../src/graph/StepGraph.ts"
import { layerNorm } from "../src/graph/transformer.ts"

const D = 512
const ROWS = 4
let seed = 7
const rand = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32 - 0.5
}
/** Rows with different offsets and spreads, including a mean large against the spread. */
const x = Float32Array.from({ length: ROWS * D }, (_, i) => {
  const row = Math.floor(i / D)
  return [0, 3, -20, 40][row]! + [1, 0.2, 5, 0.1][row]! * rand()
})
const gamma = Float32Array.from({ length: D }, () => 1 + rand())
const beta = Float32Array.from({ length: D }, () => rand())

/** PyTorch's sequence in fp32: exact mean/variance rounded once, then ((x − mean)·rstd)·γ + β. */
const pytorchLike = () => {
  const f = Math.fround
  const out = new Float32Array(ROWS * D)
  for (let r = 0; r < ROWS; r++) {
    const row = Array.from(x.subarray(r * D, (r + 1) * D))
    const mean = f(row.reduce((a, v) => a + v, 0) / D)
    const variance = f(row.reduce((a, v) => a + (v - mean) ** 2, 0) / D)
    const rstd = f(1 / f(Math.sqrt(f(variance + f(1e-5)))))
    row.forEach((v, i) => {
      out[r * D + i] = f(f(f(f(v - mean) * rstd) * gamma[i]!) + beta[i]!)
    })
  }
  return out
}

describe("transformer LayerNorm", () => {
  it("computes ((x − mean)·rstd)·γ + β to within fp32 rounding of PyTorch's sequence", async () => {
    const sg = new StepGraph(
      "ln",
      new Map([
        ["n.weight", gamma],
        ["n.bias", beta],
      ]),
    )
    sg.output(layerNorm(sg, sg.g.input("x", "float32", [ROWS, D]), "n", 1e-5), "y", "float32", [ROWS, D])
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: sg.g.toBytes() })
        return yield* session.run({ x: { type: "float32", dims: [ROWS, D], data: x } })
      }).pipe(Effect.scoped, Effect.provide(OrtSession.layerCpu)),
    )
    const expected = pytorchLike()
    const y = out.y!.data as Float32Array
    const error = y.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0)
    console.log(
      `LayerNorm max abs error vs an fp32 transcription of PyTorch's kernel: ${error.toExponential(2)}`,
    )
    expect(error).toBeLessThan(5e-4)
  })
})
