import { searchGrid } from "@personaplex/runtime"
import type { MimiConfig } from "../config.ts"
import { usedCodebooks } from "../plan.ts"
import { codebook, type Weights } from "../weights.ts"
import { type StepGraph, transposed } from "./StepGraph.ts"

interface Codebook {
  /** `[bins, q]` codebook vectors. */
  readonly vectors: string
  /** Encoder: `x · vectorsᵀ` for `x` `[B, q]`, in the graph's forms. */
  readonly dot: (x: string) => string
  /** Encoder: `[bins]` squared norms. */
  readonly norms: string
}

const squaredNorms = (vectors: Float32Array, bins: number, dim: number): Float32Array => {
  const out = new Float32Array(bins)
  for (let i = 0; i < bins; i++) {
    let s = 0
    for (let j = 0; j < dim; j++) s += vectors[i * dim + j]! ** 2
    out[i] = s
  }
  return out
}

const codebooks = (sg: StepGraph, weights: Weights, c: MimiConfig, forEncoder: boolean): Codebook[] =>
  usedCodebooks(c).map(({ half, layer }) => {
    const data = codebook(weights, half, layer, c)
    const { bins, dimension } = c.quantizer
    const name = `codebook.${half}.${layer}`
    const vectors = sg.tensor(name, [bins, dimension], data)
    const transposedVectors =
      forEncoder && sg.forms === "gpu"
        ? sg.tensor(`${name}.T`, [dimension, bins], transposed(data, bins, dimension))
        : ""
    return {
      vectors,
      dot: (x) =>
        sg.forms === "cpu"
          ? sg.op("Gemm", [x, vectors], { transB: 1 })
          : sg.matMul(x, transposedVectors, dimension, bins),
      norms: forEncoder
        ? sg.tensor(`codebook_norms.${half}.${layer}`, [bins], squaredNorms(data, bins, dimension))
        : "",
    }
  })

/** A nearest entry: its code (int32 `[B]`) and its vector (`[B, q]`). */
interface Nearest {
  readonly code: string
  readonly vector: string
}

/**
 * Nearest codebook entry as PyTorch's `cdist` computes it for > 25 vectors
 * (`sqrt(max(|x|² − 2x·e + |e|², 1e-30))`), then the first index of the minimum.
 * The code is int32, gathered from `codeTable` (`0..bins−1`, shaped like the search): WebGPU has
 * no int64 Concat and no int64 Cast.
 */
const nearest = (sg: StepGraph, x: string, book: Codebook, codeTable: string, c: MimiConfig): Nearest => {
  const { bins, dimension: q } = c.quantizer
  const cross = book.dot(sg.op("Mul", [x, sg.f32(-2)]))
  const xNorm = sg.op("ReduceSumSquare", [x, sg.i64([1])], { keepdims: 1 })
  const squared = sg.op("Add", [sg.op("Add", [cross, xNorm]), book.norms])
  const distance = sg.op("Sqrt", [sg.op("Max", [squared, sg.f32(1e-30)])])
  // Batched, each row's first minimum by one ArgMin over its row even in the GPU forms (the grid
  // search picks one row of the grid for a single vector).
  if (sg.forms === "cpu" || sg.batch > 1) {
    const index = sg.op("ArgMin", [distance], { axis: 1, keepdims: 0, select_last_index: 0 })
    return {
      code: sg.op("Gather", [codeTable, index], { axis: 0 }),
      vector: sg.op("Gather", [book.vectors, index], { axis: 0 }),
    }
  }
  const { rows, cols } = searchGrid(bins)
  const grid = sg.op("Reshape", [distance, sg.i64([rows, cols])])
  const row = sg.op("ArgMin", [sg.op("ReduceMin", [grid, sg.i64([1])], { keepdims: 0 })], {
    axis: 0,
    keepdims: 1,
  })
  const column = sg.op("ArgMin", [sg.op("Gather", [grid, row], { axis: 0 })], { axis: 1, keepdims: 0 })
  /** Entry (row, column) of a table laid out as `[rows, cols, ...]`, with the grid axes dropped. */
  const pick = (table: string, dims: ReadonlyArray<number>) =>
    sg.op("Reshape", [
      sg.op("Gather", [sg.op("Gather", [table, row], { axis: 0 }), column], { axis: 1 }),
      sg.i64([...dims]),
    ])
  return {
    code: pick(codeTable, [1]),
    vector: pick(sg.op("Reshape", [book.vectors, sg.i64([rows, cols, q])]), [1, q]),
  }
}

/**
 * Split RVQ encode of `z` `[B, D]` (upstream-spec §2.8): the semantic code from `rvq_first`,
 * the acoustic codes from `rvq_rest` applied to the same `z` with residual updates.
 * Returns int32 `[numCodebooks]` (`[B, numCodebooks]` batched).
 */
export const quantizeEncode = (sg: StepGraph, z: string, weights: Weights, c: MimiConfig): string => {
  const { dimension: q, inputDimension: d } = c.quantizer
  const [first, ...rest] = codebooks(sg, weights, c, true)
  const { bins } = c.quantizer
  const grid = searchGrid(bins)
  const table = sg.g.indices(
    "int32",
    sg.forms === "gpu" && sg.batch === 1 ? [grid.rows, grid.cols] : [bins],
    "code_index",
  )
  const codes = [
    nearest(sg, sg.linear(z, "quantizer.rvq_first.input_proj.weight", q, d), first!, table, c).code,
  ]
  let residual = sg.linear(z, "quantizer.rvq_rest.input_proj.weight", q, d)
  for (const [j, book] of rest.entries()) {
    const found = nearest(sg, residual, book, table, c)
    codes.push(found.code)
    if (j < rest.length - 1) residual = sg.op("Sub", [residual, found.vector])
  }
  if (sg.batch === 1) return sg.op("Concat", codes, { axis: 0 })
  return sg.op(
    "Concat",
    codes.map((code) => sg.op("Unsqueeze", [code, sg.i64([1])])),
    { axis: 1 },
  )
}

/** Split RVQ decode of int32 `codes` `[numCodebooks]` (`[B, numCodebooks]` batched) to the latent `[B, D]`. */
export const quantizeDecode = (sg: StepGraph, codes: string, weights: Weights, c: MimiConfig): string => {
  const { dimension: q, outputDimension: d } = c.quantizer
  const books = codebooks(sg, weights, c, false)
  // Gather, not Slice, picks code j: WebGPU has no int32 Slice.
  const lookup = (j: number) => {
    const vector = sg.op(
      "Gather",
      [books[j]!.vectors, sg.op("Gather", [codes, sg.i64([j])], { axis: sg.batch === 1 ? 0 : 1 })],
      { axis: 0 },
    )
    return sg.batch === 1 ? vector : sg.op("Reshape", [vector, sg.i64([sg.batch, q])])
  }
  const semantic = sg.linear(lookup(0), "quantizer.rvq_first.output_proj.weight", d, q)
  if (books.length === 1) return semantic
  let acoustic = lookup(1)
  for (let j = 2; j < books.length; j++) acoustic = sg.op("Add", [acoustic, lookup(j)])
  return sg.op("Add", [semantic, sg.linear(acoustic, "quantizer.rvq_rest.output_proj.weight", d, q)])
}
