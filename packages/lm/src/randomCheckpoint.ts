import * as fs from "node:fs"
import {
  makeRng,
  type RandomCheckpointOptions,
  type TensorToWrite,
  tensorsFromStatistics,
  writeSafetensors,
} from "@personaplex/runtime"
import { type LmTensorShape, numel, parameterCount } from "./checkpointTensors.ts"

/** Values per pool: pools are cycled through (from a random start) to fill big tensors fast. */
const POOL_VALUES = 1 << 22

/** How a tensor is initialised: norms at 1, embeddings O(1), linears scaled by fan-in. */
const scaleOf = (t: LmTensorShape): number => {
  if (t.name.endsWith(".alpha")) return 0
  if (/emb(\.\d+)?\.weight$/.test(t.name)) return 1
  return 1 / Math.sqrt(t.shape[t.shape.length - 1]!)
}

const BF16_ONE = 0x3f80

/** The default init, streamed: each tensor's values are produced while the file is written. */
const fanInTensors = (tensors: ReadonlyArray<LmTensorShape>, seed: number): Array<TensorToWrite> => {
  const rng = makeRng(seed)
  const pools = new Map<number, Uint16Array>()
  const pool = (scale: number) => {
    let p = pools.get(scale)
    if (!p) {
      const f = new Float32Array(POOL_VALUES)
      const a = Math.sqrt(3) * scale
      for (let i = 0; i < f.length; i++) f[i] = a * rng()
      const bits = new Uint32Array(f.buffer)
      p = new Uint16Array(POOL_VALUES)
      for (let i = 0; i < p.length; i++) p[i] = bits[i]! >>> 16
      pools.set(scale, p)
    }
    return p
  }
  return tensors.map((t) => ({
    name: t.name,
    dtype: "BF16",
    shape: t.shape,
    data: (emit) => {
      const n = numel(t.shape)
      const scale = scaleOf(t)
      if (scale === 0) return emit(new Uint8Array(new Uint16Array(n).fill(BF16_ONE).buffer))
      const p = pool(scale)
      let start = Math.floor(((rng() + 1) / 2) * POOL_VALUES)
      let left = n
      while (left > 0) {
        const take = Math.min(left, POOL_VALUES - start)
        emit(new Uint8Array(p.buffer, start * 2, take * 2))
        left -= take
        start = 0
      }
    },
  }))
}

/**
 * Write a BF16 `.safetensors` checkpoint of random values for `tensors` (`lmCheckpointTensors`), one
 * tensor at a time (nothing the size of the model is ever in memory): 8.37 B values take about as
 * long as the disk takes to absorb 16.7 GB. Values are uniform with standard deviation 1/√fan-in
 * (linears), 1 (embeddings); norm scales are 1. With `options.statistics` (a manifest of exactly
 * these tensors, BF16), they follow each tensor's statistics instead.
 */
export const writeRandomLmCheckpoint = (
  file: string,
  tensors: ReadonlyArray<LmTensorShape>,
  seed = 20261125,
  options: RandomCheckpointOptions = {},
): { readonly bytes: number; readonly parameters: number } => {
  writeSafetensors(
    file,
    options.statistics
      ? tensorsFromStatistics(tensors, "BF16", options.statistics, seed)
      : fanInTensors(tensors, seed),
    options.metadata ?? { format: "pt", note: "random weights" },
  )
  return { bytes: fs.statSync(file).size, parameters: parameterCount(tensors) }
}
