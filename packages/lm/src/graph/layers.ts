import { type GraphBuilder, linear } from "@personaplex/runtime"
import type { Quantization } from "./quantize.ts"
import type { LinearWeight, WeightSource } from "./weights.ts"

/** Emits the LM's building blocks (upstream-spec §3.3-3.4) into a graph; every value is f32 `[rows, features]`. */
export class Layers {
  private weightCount = 0
  readonly g: GraphBuilder
  readonly quantization: Quantization
  readonly blockSize: 16 | 32 | 64 | 128 | 256

  constructor(g: GraphBuilder, quantization: Quantization, blockSize: 16 | 32 | 64 | 128 | 256 = 32) {
    this.g = g
    this.quantization = quantization
    this.blockSize = blockSize
  }

  /** A unique initializer name (the builder's `fresh` names are reserved for op outputs). */
  weightName(prefix: string): string {
    return `${prefix}.${this.weightCount++}`
  }

  /** `x · Wᵀ` for a PyTorch `[out, in]` weight: MatMul on f32, or MatMulNBits on int8/int4 blocks (runtime `linear`). */
  linear(x: string, w: LinearWeight): string {
    const source = "data" in w.source ? { data: w.source.data, shape: [w.out, w.in] as const } : w.source
    return linear(this.g, x, source, {
      name: this.weightName("linear"),
      precision: this.quantization === "none" ? "float32" : this.quantization,
      blockSize: this.blockSize,
      // onnxruntime's CPU kernel for 8-bit blocks is about 100× slower with f32 activations
      // (accuracy level 0) than with int8 activations (level 4); its logit error stays bounded.
      ...(this.quantization === "int8" ? { accuracyLevel: 4 as const } : {}),
    })
  }

  /** RMSNorm computed in f32: `x · alpha / sqrt(mean(x²) + eps)`. */
  rmsNorm(x: string, alpha: Float32Array, eps = 1e-8): string {
    const g = this.g
    const ms = g.op("ReduceMean", [g.op("Mul", [x, x]), g.int64s([-1])], { keepdims: 1 })
    const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(eps)])])])
    const a = g.initializer(this.weightName("alpha"), { type: "float32", dims: [alpha.length], data: alpha })
    return g.op("Mul", [x, g.op("Mul", [a, inv])])
  }

  /** Columns `[start, end)` of `[rows, n]`. */
  columns(x: string, start: number, end: number): string {
    const g = this.g
    return g.op("Slice", [x, g.int64s([start]), g.int64s([end]), g.int64s([-1])])
  }

  /** SiLU-gated FFN: `(silu(x·W_aᵀ) ⊙ x·W_bᵀ) · W_outᵀ` with `linear_in` rows split in halves. */
  gatedFfn(x: string, linearIn: LinearWeight, linearOut: LinearWeight): string {
    const g = this.g
    const hidden = linearOut.in
    const both = this.linear(x, linearIn)
    const a = this.columns(both, 0, hidden)
    const b = this.columns(both, hidden, 2 * hidden)
    const silu = g.op("Mul", [a, g.op("Sigmoid", [a])])
    return this.linear(g.op("Mul", [silu, b]), linearOut)
  }

  /** Embedding lookup of a scalar id (`[1]` int64) → `[1, D]`; id −1 gives the zero vector (ScaledEmbedding). */
  embed(table: { readonly value: string; readonly float: boolean }, id: string): string {
    const g = this.g
    const gathered = g.op("Gather", [table.value, g.op("Max", [id, g.scalar(0, "int64")])], { axis: 0 })
    // Gather the stored rows first, widen only those (a bf16 table is never widened whole).
    const row = table.float ? gathered : g.op("Cast", [gathered], { to: 1 })
    const keep = g.op("Cast", [g.op("Not", [g.op("Equal", [id, g.scalar(-1, "int64")])])], { to: 1 })
    return g.op("Mul", [row, g.op("Unsqueeze", [keep, g.int64s([-1])])])
  }

  /** An embedding table as an initializer (f32 in memory, or the checkpoint's bytes in place). */
  table(
    name: string,
    rows: number,
    dim: number,
    source: WeightSource,
  ): { readonly value: string; readonly float: boolean } {
    if ("data" in source)
      return {
        value: this.g.initializer(name, { type: "float32", dims: [rows, dim], data: source.data }),
        float: true,
      }
    const t = source.tensor
    const type = t.dtype === "BF16" ? "bfloat16" : t.dtype === "F16" ? "float16" : "float32"
    const value = this.g.externalInitializer(name, {
      type,
      dims: [rows, dim],
      file: t.path,
      offset: t.byteOffset,
      length: t.byteLength,
    })
    return { value, float: type === "float32" }
  }

  /**
   * Interleaved RoPE on `[1, heads·headDim]` at the position whose angles are given
   * (`cos`/`sin` `[headDim/2, 1]`); returns `[heads, 1, headDim]`.
   */
  rope(x: string, heads: number, headDim: number, cos: string, sin: string): string {
    const g = this.g
    const pairs = g.op("Reshape", [x, g.int64s([heads, headDim / 2, 2])])
    const x0 = g.op("Slice", [pairs, g.int64s([0]), g.int64s([1]), g.int64s([-1])])
    const x1 = g.op("Slice", [pairs, g.int64s([1]), g.int64s([2]), g.int64s([-1])])
    const r0 = g.op("Sub", [g.op("Mul", [x0, cos]), g.op("Mul", [x1, sin])])
    const r1 = g.op("Add", [g.op("Mul", [x0, sin]), g.op("Mul", [x1, cos])])
    return g.op("Reshape", [g.op("Concat", [r0, r1], { axis: -1 }), g.int64s([heads, 1, headDim])])
  }

  /**
   * Single-query attention: `q` `[heads, 1, hd]`, keys/values `[n, heads·hd]`, optional
   * boolean `mask` `[n]` (true = visible). Returns `[1, heads·hd]`.
   */
  attend(
    q: string,
    keys: string,
    values: string,
    n: number,
    heads: number,
    headDim: number,
    mask?: string,
  ): string {
    const g = this.g
    const k = g.op("Transpose", [g.op("Reshape", [keys, g.int64s([n, heads, headDim])])], { perm: [1, 2, 0] })
    const v = g.op("Transpose", [g.op("Reshape", [values, g.int64s([n, heads, headDim])])], {
      perm: [1, 0, 2],
    })
    let scores = g.op("Mul", [g.op("MatMul", [q, k]), g.scalar(1 / Math.sqrt(headDim))])
    if (mask) scores = g.op("Where", [mask, scores, g.scalar(Number.NEGATIVE_INFINITY)])
    const probs = g.op("Softmax", [scores], { axis: -1 })
    const out = g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [1, 0, 2] })
    return g.op("Reshape", [out, g.int64s([1, heads * headDim])])
  }

  /**
   * Single-query attention over a KV ring plus the query's own new key, without copying the ring:
   * `q` `[heads, 1, hd]`, new `k`/`v` `[1, heads·hd]`, rings `[heads, n, hd]`, `mask` bool `[n + 1, 1]`
   * (last entry: the new key). Returns `[1, heads·hd]`.
   */
  attendRing(
    q: string,
    k: string,
    v: string,
    kRing: string,
    vRing: string,
    mask: string,
    n: number,
    heads: number,
    headDim: number,
  ): string {
    const g = this.g
    const qCol = g.op("Reshape", [q, g.int64s([heads, headDim, 1])])
    const kNew = g.op("Reshape", [k, g.int64s([heads, 1, headDim])])
    const vNew = g.op("Reshape", [v, g.int64s([heads, 1, headDim])])
    const scores = g.op("Concat", [g.op("MatMul", [kRing, qCol]), g.op("MatMul", [kNew, qCol])], { axis: 1 })
    const scaled = g.op("Mul", [scores, g.scalar(1 / Math.sqrt(headDim))])
    const probs = g.op("Softmax", [g.op("Where", [mask, scaled, g.scalar(Number.NEGATIVE_INFINITY)])], {
      axis: 1,
    })
    // [heads, n, 1] → [heads, 1, n] is a reshape, not a transpose (the last axis is 1).
    const pRing = g.op("Reshape", [
      g.op("Slice", [probs, g.int64s([0]), g.int64s([n]), g.int64s([1])]),
      g.int64s([heads, 1, n]),
    ])
    const pNew = g.op("Slice", [probs, g.int64s([n]), g.int64s([n + 1]), g.int64s([1])])
    const out = g.op("Add", [g.op("MatMul", [pRing, vRing]), g.op("Mul", [pNew, vNew])])
    return g.op("Reshape", [g.op("Transpose", [out], { perm: [1, 0, 2] }), g.int64s([1, heads * headDim])])
  }

  /**
   * Temperature + top-k sampling by Gumbel-max: `argmax_{i ∈ topk} logits_i / T + noise_i`.
   * `logits` `[1, V]`, `noise` `[V]`, `temperature` f32 `[1]`, `topK` int64 `[1]` (1..V).
   * Zero noise gives the greedy argmax. Returns the id as int64 `[1]`.
   */
  sample(logits: string, noise: string, temperature: string, topK: string): string {
    const g = this.g
    const [values, indices] = g.opMulti("TopK", [logits, topK], 2, { axis: -1, largest: 1, sorted: 1 })
    const ids = g.op("Reshape", [indices!, g.int64s([-1])])
    const scores = g.op("Add", [
      g.op("Div", [g.op("Reshape", [values!, g.int64s([-1])]), temperature]),
      g.op("Gather", [noise, ids], { axis: 0 }),
    ])
    const best = g.op("ArgMax", [scores], { axis: 0, keepdims: 1 })
    return g.op("Gather", [ids, best], { axis: 0 })
  }
}

/** RoPE frequencies as upstream computes them in f32: `exp(i · (−ln(maxPeriod)·2/D))`. */
export const ropeFrequencies = (headDim: number, maxPeriod: number): Float32Array => {
  const c = Math.fround((-Math.log(maxPeriod) * 2) / headDim)
  return Float32Array.from({ length: headDim / 2 }, (_, i) => Math.fround(Math.exp(Math.fround(i * c))))
}
