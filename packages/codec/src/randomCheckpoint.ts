import {
  makeRng,
  type RandomCheckpointOptions,
  tensorsFromStatistics,
  writeSafetensors,
} from "@personaplex/runtime"
import type { MimiConfig } from "./config.ts"
import { checkpointTensors, type TensorSpec } from "./plan.ts"

/**
 * A random Mimi checkpoint for benchmarks and smoke runs (F32, upstream names from the codec's tensor
 * plan): weights uniform with std 1/√fan-in so activations stay O(1), norms 1, upstream's 0.01 layer
 * scale, codebook usage 1. With `options.statistics` (a manifest of exactly the plan's tensors, F32),
 * values follow each tensor's statistics instead. Returns the parameter count (codebook buffers
 * excluded) and the values stored.
 */
export const writeRandomMimiCheckpoint = (
  file: string,
  config: MimiConfig,
  seed = 7,
  options: RandomCheckpointOptions = {},
): { readonly parameters: number; readonly stored: number; readonly tensors: number } => {
  const rng = makeRng(seed)
  const uniform = (n: number, std: number) => {
    const a = Math.sqrt(3) * std
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = a * rng()
    return out
  }
  const randomTensor = (spec: TensorSpec): Float32Array => {
    const n = spec.shape.reduce((a, b) => a * b, 1)
    const name = spec.name
    if (name.endsWith("layer_scale_1.scale") || name.endsWith("layer_scale_2.scale"))
      return new Float32Array(n).fill(0.01)
    if (/norm[12]\.weight$/.test(name) || name.endsWith("cluster_usage") || name.endsWith("_initialized"))
      return new Float32Array(n).fill(1)
    if (name.endsWith(".bias")) return uniform(n, 0.01)
    if (name.endsWith("embedding_sum")) return uniform(n, 1)
    if (name.includes("convtr")) {
      // [cin, cout/groups, k]: each output sums cin inputs over k/stride = 2 overlapping taps
      const [cin, , k] = spec.shape as [number, number, number]
      return uniform(n, 1 / Math.sqrt(name.startsWith("upsample") ? 2 : (cin * k) / 2))
    }
    return uniform(n, 1 / Math.sqrt(spec.shape.slice(1).reduce((a, b) => a * b, 1)))
  }
  const specs = checkpointTensors(config)
  writeSafetensors(
    file,
    options.statistics
      ? tensorsFromStatistics(specs, "F32", options.statistics, seed)
      : specs.map((spec) => ({
          name: spec.name,
          dtype: "F32" as const,
          shape: spec.shape,
          data: randomTensor(spec),
        })),
    options.metadata ?? { format: "pt", note: "random weights for benchmarking" },
  )
  const count = (list: ReadonlyArray<TensorSpec>) =>
    list.reduce((total, s) => total + s.shape.reduce((a, b) => a * b, 1), 0)
  return {
    parameters: count(specs.filter((s) => !s.name.includes("_codebook"))),
    stored: count(specs),
    tensors: specs.length,
  }
}
