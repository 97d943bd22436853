import * as fs from "node:fs"
import { makeRng } from "@personaplex/runtime"
import { type LmTensorShape, numel } from "./checkpointTensors.ts"

/** Values per pool: pools are cycled through (from a random start) to fill big tensors fast. */
const POOL_VALUES = 1 << 22

/** How a tensor is initialised: norms at 1, embeddings O(1), linears scaled by fan-in. */
const scaleOf = (t: LmTensorShape): number => {
  if (t.name.endsWith(".alpha")) return 0
  if (/emb(\.\d+)?\.weight$/.test(t.name)) return 1
  return 1 / Math.sqrt(t.shape[t.shape.length - 1]!)
}

const BF16_ONE = 0x3f80

/**
 * Write a BF16 `.safetensors` checkpoint of random values for `tensors`, one tensor at a time
 * (nothing the size of the model is ever in memory): 8.37 B values take about as long as the
 * disk takes to absorb 16.7 GB. Values are uniform with standard deviation 1/√fan-in (linears),
 * 1 (embeddings); norm scales are 1.
 */
export const writeRandomLmCheckpoint = (
  file: string,
  tensors: ReadonlyArray<LmTensorShape>,
  seed = 20261125,
): { readonly bytes: number; readonly parameters: number } => {
  const rng = makeRng(seed)
  const header: Record<string, unknown> = { __metadata__: { format: "pt", note: "random weights" } }
  let offset = 0
  for (const t of tensors) {
    const length = numel(t.shape) * 2
    header[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  let json = JSON.stringify(header)
  json += " ".repeat((8 - (json.length % 8)) % 8)
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  const fd = fs.openSync(file, "w")
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
  try {
    fs.writeSync(fd, prefix)
    fs.writeSync(fd, json)
    let parameters = 0
    for (const t of tensors) {
      const n = numel(t.shape)
      parameters += n
      const scale = scaleOf(t)
      if (scale === 0) {
        fs.writeSync(fd, new Uint16Array(n).fill(BF16_ONE))
        continue
      }
      const p = pool(scale)
      let start = Math.floor(((rng() + 1) / 2) * POOL_VALUES)
      let left = n
      while (left > 0) {
        const take = Math.min(left, POOL_VALUES - start)
        fs.writeSync(fd, p, start * 2, take * 2)
        left -= take
        start = 0
      }
    }
    return { bytes: 8 + Buffer.byteLength(json) + offset, parameters }
  } finally {
    fs.closeSync(fd)
  }
}
