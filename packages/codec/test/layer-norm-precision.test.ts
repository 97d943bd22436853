import { type ExecutionProvider, OrtSession, webGpuUnavailable } from "@personaplex/runtime"
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

/** The same in float64, rounded once at the end: what both are approximations of. */
const exact = () => {
  const out = new Float64Array(ROWS * D)
  for (let r = 0; r < ROWS; r++) {
    const row = Array.from(x.subarray(r * D, (r + 1) * D))
    const mean = row.reduce((a, v) => a + v, 0) / D
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D
    row.forEach((v, i) => {
      out[r * D + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[i]! + beta[i]!
    })
  }
  return out
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`skipping the LayerNorm precision test on WebGPU: ${noWebGpu}`)
const providers: ReadonlyArray<ExecutionProvider> = noWebGpu ? ["cpu"] : ["cpu", "webgpu"]
if (noWebGpu)
  describe.skip(`transformer LayerNorm (webgpu) (skipped: no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)})`, () => {
    it("stays within fp32 rounding of the exact LayerNorm", () => {})
  })

describe.each(providers)("transformer LayerNorm (%s)", (provider) => {
  it("stays within fp32 rounding of the exact LayerNorm, also for a row whose mean is large against its spread", async () => {
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
        const session = yield* (yield* OrtSession).open({
          model: sg.g.toBytes(),
          ...(provider === "cpu" ? {} : { disableCpuFallback: true }),
        })
        return yield* session.run({ x: { type: "float32", dims: [ROWS, D], data: x } })
      }).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: [provider] }))),
    )
    const y = out.y!.data as Float32Array
    const vsExact = maxAbsDiff(y, exact())
    const vsPytorch = maxAbsDiff(y, pytorchLike())
    console.log(
      `${provider}: LayerNorm max abs error vs float64 ${vsExact.toExponential(2)}; vs an fp32 transcription of PyTorch's kernel ${vsPytorch.toExponential(2)} (that transcription vs float64: ${maxAbsDiff(pytorchLike(), exact()).toExponential(2)})`,
    )
    expect(vsExact).toBeLessThan(1e-6)
    expect(vsPytorch).toBeLessThan(5e-4)
  })
})
