import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import {
  Checkpoint,
  dequantizeBlockwise,
  f16ToFloat32,
  float32ToBf16,
  float32ToF16,
  GraphBuilder,
  type LinearOptions,
  type LinearWeight,
  linear,
  OrtSession,
  type OrtTensor,
  quantizeBlockwise,
  writeSafetensors,
} from "../src/index.ts"

const rng = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32 - 0.5
}
const randn = (n: number, seed: number) => Float32Array.from({ length: n }, rng(seed))

/** `x [m, k] · wᵀ` for a PyTorch-layout `w [n, k]`, in float64. */
const linearRef = (
  x: Float32Array,
  w: Float32Array,
  m: number,
  k: number,
  n: number,
  bias?: Float32Array,
) => {
  const out = new Float32Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!
      out[i * n + j] = s
    }
  return out
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}
const relRms = (a: ArrayLike<number>, ref: ArrayLike<number>) => {
  let e = 0
  let r = 0
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - ref[i]!) ** 2
    r += ref[i]! ** 2
  }
  return Math.sqrt(e / r)
}

const runGraph = (model: Uint8Array | string, feeds: Record<string, OrtTensor>) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model })
        return yield* session.run(feeds)
      }) as Effect.Effect<Record<string, OrtTensor>, unknown, OrtSession | Scope.Scope>,
    ).pipe(Effect.provide(OrtSession.layerCpu)),
  )

/** Build `y = linear(x)` for x `[2, 3, k]`, run it, return y as float32. */
const runLinear = async (
  k: number,
  weight: LinearWeight,
  options: LinearOptions,
  x: Float32Array,
  save?: string,
): Promise<{ y: Float32Array; dims: ReadonlyArray<number>; graph: GraphBuilder }> => {
  const g = new GraphBuilder("linear")
  const type = options.inputType ?? "float32"
  const input = g.input("x", type, [2, "t", k])
  g.output(linear(g, input, weight, options), "y", type)
  const model = save ? g.save(save) : g.toBytes()
  const data = type === "float16" ? float32ToF16(x) : x
  const out = await runGraph(model, { x: { type, dims: [2, 3, k], data } })
  const y = type === "float16" ? f16ToFloat32(out.y!.data as Uint16Array) : (out.y!.data as Float32Array)
  return { y, dims: out.y!.dims, graph: g }
}

describe("quantizeBlockwise", () => {
  it("packs 4-bit levels low nibble first, with the largest magnitude on the most negative level", () => {
    const w = new Float32Array(16)
    w.set([-0.5, 1, 0.25, 0, -1.6])
    const q = quantizeBlockwise(w, [1, 16], { bits: 4, blockSize: 16 })
    expect(q.dims).toEqual([1, 1, 8])
    expect(q.scales[0]).toBeCloseTo(-1.6 / -8, 6)
    // levels q = round(w / 0.2) + 8: -0.5 -> -3 (rounds half up) ... -1.6 -> -8
    const levels = [...q.packed].flatMap((b) => [b & 0xf, b >> 4])
    expect(levels.slice(0, 6)).toEqual([-2 + 8, 5 + 8, 1 + 8, 8, 0, 8])
    expect(dequantizeBlockwise(q)[4]).toBeCloseTo(-1.6, 6)
  })

  it("keeps every value within one step of the original, exact at each block's extreme", () => {
    const [n, k] = [8, 96]
    const w = randn(n * k, 21)
    for (const bits of [4, 8] as const) {
      const q = quantizeBlockwise(w, [n, k], { bits, blockSize: 32 })
      const back = dequantizeBlockwise(q)
      for (let row = 0; row < n; row++)
        for (let i = 0; i < k; i++) {
          const step = Math.abs(q.scales[row * q.kBlocks + Math.floor(i / 32)]!)
          expect(Math.abs(back[row * k + i]! - w[row * k + i]!)).toBeLessThanOrEqual(step * 1.0001)
        }
    }
  })

  it("zero-pads K to whole blocks and stores zeros for an all-zero block", () => {
    const [n, k] = [3, 40]
    const w = randn(n * k, 5)
    w.fill(0, 0, 32) // row 0, block 0
    const q = quantizeBlockwise(w, [n, k], { bits: 4, blockSize: 32 })
    expect(q.kBlocks).toBe(2)
    expect(q.dims).toEqual([3, 2, 16])
    expect(q.scalesDims).toEqual([6])
    expect(q.scales[0]).toBe(0)
    // padding of row 0, block 1 (k 40..63) holds the zero point 8 in both nibbles
    expect([...q.packed.subarray(16 + 4, 32)].every((b) => b === 0x88)).toBe(true)
    expect(dequantizeBlockwise(q).length).toBe(n * k)
  })

  it("rejects bad options, shapes and non-finite weights with a GraphBuildError", () => {
    const w = new Float32Array(64)
    expect(() => quantizeBlockwise(w, [2, 32], { bits: 3 as 4, blockSize: 32 })).toThrow(
      /bits must be 4 or 8/,
    )
    expect(() => quantizeBlockwise(w, [2, 32], { bits: 4, blockSize: 48 as 32 })).toThrow(
      /blockSize must be one of/,
    )
    expect(() => quantizeBlockwise(w, [2, 16], { bits: 4, blockSize: 32 })).toThrow(
      /64 values for shape \[2, 16\]/,
    )
    w[40] = Number.NaN
    expect(() => quantizeBlockwise(w, [2, 32], { bits: 8, blockSize: 32 })).toThrow(
      /row 1 holds a non-finite/,
    )
  })
})

describe("linear on the CPU provider", () => {
  const [n, m] = [24, 6]

  for (const precision of ["int8", "int4"] as const)
    for (const [k, blockSize] of [
      [128, 32],
      [100, 32],
      [200, 64],
      [160, 128],
    ] as const)
      it(`${precision}, K=${k}, block ${blockSize}: matches the dequantized weight exactly, the float weight within the quantization error`, async () => {
        const w = randn(n * k, k + blockSize)
        const bias = randn(n, 3)
        const x = randn(m * k, 4)
        const { y, dims, graph } = await runLinear(
          k,
          { data: w, shape: [n, k] },
          { name: "proj", precision, blockSize, bias },
          x,
        )
        expect(dims).toEqual([2, 3, n])
        const q = quantizeBlockwise(w, [n, k], { bits: precision === "int4" ? 4 : 8, blockSize })
        const exact = maxAbsDiff(y, linearRef(x, dequantizeBlockwise(q), m, k, n, bias))
        const error = relRms(y, linearRef(x, w, m, k, n, bias))
        console.log(
          `${precision} K=${k} block ${blockSize}: vs dequantized max ${exact.toExponential(2)}, vs float relative RMS ${error.toExponential(2)}`,
        )
        expect(exact).toBeLessThan(1e-4)
        expect(error).toBeLessThan(precision === "int4" ? 0.1 : 0.01)
        expect(graph.initializerBytes).toBeLessThan(n * k * (precision === "int4" ? 1 : 2))
      })

  it("int4 with accuracyLevel 4 (int8 activations on the CPU) stays near the dequantized reference", async () => {
    const k = 128
    const w = randn(n * k, 31)
    const x = randn(m * k, 32)
    const q = quantizeBlockwise(w, [n, k], { bits: 4, blockSize: 32 })
    const { y } = await runLinear(
      k,
      { quantized: q },
      { name: "fast", precision: "int4", accuracyLevel: 4 },
      x,
    )
    const ref = linearRef(x, dequantizeBlockwise(q), m, k, n)
    const error = relRms(y, ref)
    console.log(
      `int4 accuracy_level 4: vs dequantized relative RMS ${error.toExponential(2)}, max ${maxAbsDiff(y, ref).toExponential(2)}`,
    )
    expect(error).toBeGreaterThan(0)
    expect(error).toBeLessThan(0.02)
  })

  it("float32: MatMul with the transposed weight plus bias equals the reference", async () => {
    const k = 40
    const w = randn(n * k, 8)
    const bias = randn(n, 9)
    const x = randn(m * k, 10)
    const { y } = await runLinear(
      k,
      { data: w, shape: [n, k] },
      { name: "fc", precision: "float32", bias },
      x,
    )
    expect(maxAbsDiff(y, linearRef(x, w, m, k, n, bias))).toBeLessThan(1e-5)
  })

  it("float16 weight with float32 input: equals the reference on the fp16-rounded weight", async () => {
    const k = 40
    const w = randn(n * k, 11)
    const x = randn(m * k, 12)
    const { y, graph } = await runLinear(
      k,
      { data: w, shape: [n, k] },
      { name: "fc", precision: "float16" },
      x,
    )
    expect(graph.initializerBytes).toBe(n * k * 2)
    const rounded = f16ToFloat32(float32ToF16(w))
    expect(maxAbsDiff(y, linearRef(x, rounded, m, k, n))).toBeLessThan(1e-5)
    console.log(
      `float16 weight: vs float weight max ${maxAbsDiff(y, linearRef(x, w, m, k, n)).toExponential(2)}`,
    )
  })

  it("float16 input and output: fp16 MatMul and fp16 MatMulNBits scales stay close to the reference", async () => {
    const k = 64
    const w = randn(n * k, 13)
    const bias = randn(n, 14)
    const x = f16ToFloat32(float32ToF16(randn(m * k, 15)))
    const ref = linearRef(x, f16ToFloat32(float32ToF16(w)), m, k, n, bias)
    const half = await runLinear(
      k,
      { data: w, shape: [n, k] },
      { name: "fc", precision: "float16", bias, inputType: "float16" },
      x,
    )
    expect(maxAbsDiff(half.y, ref)).toBeLessThan(1e-2)
    const q = quantizeBlockwise(w, [n, k], { bits: 8, blockSize: 32 })
    const int8 = await runLinear(
      k,
      { quantized: q },
      { name: "fc", precision: "int8", bias, inputType: "float16" },
      x,
    )
    const dq = linearRef(x, dequantizeBlockwise(q), m, k, n, bias)
    console.log(
      `float16 input: MatMul max err ${maxAbsDiff(half.y, ref).toExponential(2)}, MatMulNBits int8 max err ${maxAbsDiff(int8.y, dq).toExponential(2)}`,
    )
    expect(maxAbsDiff(int8.y, dq)).toBeLessThan(1e-2)
  })

  it("a BF16 tensor of a .safetensors file: referenced in place (float32) or read and quantized (int4)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "linear-"))
    const k = 48
    const w = randn(n * k, 16)
    const file = path.join(dir, "w.safetensors")
    writeSafetensors(file, [
      { name: "other", dtype: "F32", shape: [3], data: new Float32Array(3) },
      { name: "proj.weight", dtype: "BF16", shape: [n, k], data: float32ToBf16(w) },
    ])
    const ckpt = Checkpoint.openSync(file)
    const info = ckpt.infoSync("proj.weight")
    const stored = ckpt.float32Sync("proj.weight").data
    ckpt.close()
    const x = randn(m * k, 17)
    const float = await runLinear(
      k,
      { tensor: info },
      { name: "proj", precision: "float32" },
      x,
      path.join(dir, "f.onnx"),
    )
    expect(float.graph.initializerBytes).toBe(0)
    expect(maxAbsDiff(float.y, linearRef(x, stored, m, k, n))).toBeLessThan(1e-5)
    const int4 = await runLinear(k, { tensor: info }, { name: "proj", precision: "int4", blockSize: 16 }, x)
    const dq = dequantizeBlockwise(quantizeBlockwise(stored, [n, k], { bits: 4, blockSize: 16 }))
    expect(maxAbsDiff(int4.y, linearRef(x, dq, m, k, n))).toBeLessThan(1e-4)
  })

  it("bad weights and mismatched pre-quantized blocks fail with a GraphBuildError naming the layer", () => {
    const g = new GraphBuilder("bad")
    const x = g.input("x", "float32", [1, 8])
    const q = quantizeBlockwise(new Float32Array(64), [8, 8], { bits: 8, blockSize: 16 })
    expect(() => linear(g, x, { quantized: q }, { name: "a", precision: "int4", blockSize: 16 })).toThrow(
      /linear "a": pre-quantized weight has 8 bits, block 16; asked for 4 bits, block 16/,
    )
    expect(() => linear(g, x, { quantized: q }, { name: "b", precision: "float32" })).toThrow(
      /linear "b".*int8 or int4/,
    )
    expect(() =>
      linear(g, x, { data: new Float32Array(10), shape: [2, 8] }, { name: "c", precision: "float32" }),
    ).toThrow(/linear "c": 10 values for shape \[2, 8\]/)
    expect(() =>
      linear(
        g,
        x,
        { data: new Float32Array(16), shape: [2, 8] },
        { name: "d", precision: "float32", bias: new Float32Array(3) },
      ),
    ).toThrow(/linear "d": bias has 3 values for 2 outputs/)
    linear(g, x, { data: new Float32Array(16), shape: [2, 8] }, { name: "e", precision: "int8" })
    expect(() =>
      linear(g, x, { data: new Float32Array(16), shape: [2, 8] }, { name: "e", precision: "int8" }),
    ).toThrow(/"e.weight" is declared twice/)
  })
})
