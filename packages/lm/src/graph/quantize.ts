/**
 * Block-wise symmetric weight quantization in the com.microsoft `MatMulNBits` layout
 * (toolchain-notes §1.4): `B` uint8 `[N, kBlocks, blockSize·bits/8]`, low nibble first for
 * 4 bits, `scales` f32 `[N·kBlocks]`, no zero-point input (zero point 2^(bits−1)).
 */
export type Quantization = "none" | "int8" | "int4"

export interface QuantizedLinear {
  readonly bits: 4 | 8
  /** Output features (rows of the PyTorch weight). */
  readonly n: number
  /** Input features. */
  readonly k: number
  readonly blockSize: number
  readonly kBlocks: number
  readonly packed: Uint8Array
  readonly scales: Float32Array
}

/** Quantize a PyTorch-layout weight `[n, k]` (row = output feature); `k` is zero-padded to whole blocks. */
export const quantizeLinear = (weight: Float32Array, n: number, k: number, bits: 4 | 8, blockSize = 32): QuantizedLinear => {
  const kBlocks = Math.ceil(k / blockSize)
  const blob = (blockSize * bits) / 8
  const packed = new Uint8Array(n * kBlocks * blob)
  const scales = new Float32Array(n * kBlocks)
  const qmax = bits === 8 ? 127 : 7
  const zero = bits === 8 ? 128 : 8
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = b * blockSize
      const end = Math.min(k, start + blockSize)
      let amax = 0
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(weight[row * k + i]!))
      const scale = amax / qmax || 1
      scales[row * kBlocks + b] = scale
      const base = (row * kBlocks + b) * blob
      for (let i = 0; i < blockSize; i++) {
        const value = start + i < end ? weight[row * k + start + i]! : 0
        const q = Math.max(-qmax, Math.min(qmax, Math.round(value / scale))) + zero
        if (bits === 8) packed[base + i] = q
        else packed[base + (i >> 1)]! |= (i & 1) === 0 ? q : q << 4
      }
    }
  }
  return { bits, n, k, blockSize, kBlocks, packed, scales }
}

/** The float weight `[n, k]` that a quantized linear computes with (for error reports and tests). */
export const dequantizeLinear = (q: QuantizedLinear): Float32Array => {
  const out = new Float32Array(q.n * q.k)
  const blob = (q.blockSize * q.bits) / 8
  const zero = q.bits === 8 ? 128 : 8
  for (let row = 0; row < q.n; row++)
    for (let i = 0; i < q.k; i++) {
      const b = Math.floor(i / q.blockSize)
      const j = i % q.blockSize
      const base = (row * q.kBlocks + b) * blob
      const raw = q.bits === 8 ? q.packed[base + j]! : (q.packed[base + (j >> 1)]! >> ((j & 1) * 4)) & 15
      out[row * q.k + i] = (raw - zero) * q.scales[row * q.kBlocks + b]!
    }
  return out
}
