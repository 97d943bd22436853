import { describe, expect, it } from "vitest"
import {
  bf16ToFloat32,
  type TensorStatistics,
  TensorStatisticsError,
  tensorsFromStatistics,
} from "../src/index.ts"

const plan = [
  { name: "w", shape: [64, 32] },
  { name: "norm", shape: [32] },
]
const statistics: ReadonlyArray<TensorStatistics> = [
  { name: "norm", dtype: "F32", shape: [32], mean: 1, std: 0, min: 1, max: 1 },
  { name: "w", dtype: "F32", shape: [64, 32], mean: 0.5, std: 0.2, min: 0.1, max: 0.8 },
]
const valuesOf = (data: unknown) => data as Float32Array

const failureOf = (run: () => unknown): TensorStatisticsError => {
  try {
    run()
  } catch (error) {
    if (error instanceof TensorStatisticsError) return error
    throw error
  }
  throw new Error("expected a TensorStatisticsError")
}

describe("tensorsFromStatistics", () => {
  it("draws each tensor from its statistics, in the manifest's order, the same for the same seed", () => {
    const tensors = tensorsFromStatistics(plan, "F32", statistics, 3)
    expect(tensors.map((t) => t.name)).toEqual(["norm", "w"])
    expect([...valuesOf(tensors[0]!.data)]).toEqual(new Array(32).fill(1))
    const w = valuesOf(tensors[1]!.data)
    expect(w.length).toBe(64 * 32)
    expect(Math.min(...w)).toBeGreaterThanOrEqual(Math.fround(0.1))
    expect(Math.max(...w)).toBeLessThanOrEqual(Math.fround(0.8))
    const mean = w.reduce((a, b) => a + b, 0) / w.length
    expect(mean).toBeGreaterThan(0.48)
    expect(mean).toBeLessThan(0.52)
    expect(valuesOf(tensorsFromStatistics(plan, "F32", statistics, 3)[1]!.data)).toEqual(w)
    expect(valuesOf(tensorsFromStatistics(plan, "F32", statistics, 4)[1]!.data)).not.toEqual(w)
  })

  it("BF16 manifests give the same values rounded to bfloat16", () => {
    const bf16 = statistics.map((s) => ({ ...s, dtype: "BF16" as const }))
    const narrow = tensorsFromStatistics(plan, "BF16", bf16, 3)[1]!
    const wide = valuesOf(tensorsFromStatistics(plan, "F32", statistics, 3)[1]!.data)
    const widened = bf16ToFloat32(narrow.data as Uint16Array)
    expect(narrow.dtype).toBe("BF16")
    for (let i = 0; i < wide.length; i++) expect(Math.abs(widened[i]! - wide[i]!)).toBeLessThanOrEqual(0.004)
  })

  it("a manifest that does not describe the model's tensors is a typed error naming the tensor", () => {
    const [norm, w] = statistics as [TensorStatistics, TensorStatistics]
    const cases: ReadonlyArray<[ReadonlyArray<TensorStatistics>, string, RegExp]> = [
      [[norm], "w", /no statistics/],
      [[norm, w, { ...w, name: "extra" }], "extra", /no such tensor/],
      [[norm, w, w], "w", /listed twice/],
      [[norm, { ...w, shape: [32, 64] }], "w", /shape \[32,64\], the model's is \[64,32\]/],
      [[norm, { ...w, dtype: "BF16" }], "w", /dtype BF16, the writer's is F32/],
    ]
    for (const [manifest, tensor, reason] of cases) {
      const error = failureOf(() => tensorsFromStatistics(plan, "F32", manifest, 1))
      expect(error.tensor).toBe(tensor)
      expect(error.message).toMatch(reason)
    }
  })
})
