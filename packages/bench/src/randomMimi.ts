import { checkpointTensors, type MimiConfig } from "@personaplex/codec"
import { writeSafetensors } from "@personaplex/runtime"
import { makeRng } from "./randomCheckpoint.ts"

/**
 * A random Mimi checkpoint (F32, upstream names from the codec's own tensor plan): weights
 * uniform with std 1/√fan-in so activations stay O(1), norms 1, layer scales 0.01, codebook
 * usage 1. Returns the number of parameters (codebook buffers excluded).
 */
export const writeRandomMimiCheckpoint = (file: string, config: MimiConfig, seed = 7): number => {
  const rng = makeRng(seed)
  const uniform = (n: number, std: number) => {
    const a = Math.sqrt(3) * std
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = a * rng()
    return out
  }
  const specs = checkpointTensors(config)
  let parameters = 0
  const tensors = specs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1)
    const name = spec.name
    if (!name.includes("_codebook")) parameters += n
    let data: Float32Array
    if (name.endsWith("layer_scale_1.scale") || name.endsWith("layer_scale_2.scale"))
      data = new Float32Array(n).fill(0.01)
    else if (
      /norm[12]\.weight$/.test(name) ||
      name.endsWith("cluster_usage") ||
      name.endsWith("_initialized")
    )
      data = new Float32Array(n).fill(1)
    else if (name.endsWith(".bias")) data = uniform(n, 0.01)
    else if (name.endsWith("embedding_sum")) data = uniform(n, 1)
    else {
      const fanIn = spec.shape.slice(1).reduce((a, b) => a * b, 1)
      data = uniform(n, 1 / Math.sqrt(Math.max(1, name.includes("convtr") ? fanIn / 2 : fanIn)))
    }
    return { name, dtype: "F32" as const, shape: spec.shape, data }
  })
  writeSafetensors(file, tensors, { format: "pt", note: "random weights for benchmarking" })
  return parameters
}
