import type { Checkpoint } from "@personaplex/runtime"
import type { MimiConfig } from "./config.ts"
import { codebookPrefix, type QuantizerHalf, type TensorSpec } from "./plan.ts"

/** Float32 weights by upstream name, each checked against its expected shape. */
export type Weights = ReadonlyMap<string, Float32Array>

/**
 * Read `specs` from the checkpoint as Float32. Throws `MissingTensorError` / `TensorMismatchError`
 * (naming the tensor) for a missing tensor or a wrong shape.
 */
export const readWeights = (checkpoint: Checkpoint, specs: ReadonlyArray<TensorSpec>): Weights => {
  const weights = new Map<string, Float32Array>()
  for (const spec of specs) weights.set(spec.name, checkpoint.float32Sync(spec.name, spec.shape).data)
  return weights
}

/** Check presence and shape of every tensor without reading data. */
export const checkTensors = (checkpoint: Checkpoint, specs: ReadonlyArray<TensorSpec>): void => {
  for (const spec of specs) {
    const info = checkpoint.infoSync(spec.name)
    if (info.shape.length !== spec.shape.length || info.shape.some((d, i) => d !== spec.shape[i]))
      // float32Sync raises the typed shape error with the file path
      checkpoint.float32Sync(spec.name, spec.shape)
  }
}

export const CODEBOOK_EPS = 1e-5

/** Codebook vectors `E[i] = embedding_sum[i] / max(cluster_usage[i], 1e-5)`, in fp32 (upstream-spec §2.8). */
export const codebook = (
  weights: Weights,
  half: QuantizerHalf,
  layer: number,
  c: MimiConfig,
): Float32Array => {
  const prefix = codebookPrefix(half, layer)
  const sum = weights.get(`${prefix}.embedding_sum`)!
  const usage = weights.get(`${prefix}.cluster_usage`)!
  const { bins, dimension } = c.quantizer
  const eps = Math.fround(CODEBOOK_EPS)
  const out = new Float32Array(bins * dimension)
  for (let i = 0; i < bins; i++) {
    const u = Math.max(usage[i]!, eps)
    for (let j = 0; j < dimension; j++) out[i * dimension + j] = sum[i * dimension + j]! / u
  }
  return out
}

/** Row-major transpose of an `[rows, cols]` matrix. */
export const transpose = (m: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(m.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!
  return out
}
