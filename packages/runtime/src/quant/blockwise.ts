import { GraphBuildError } from "../errors.ts"

export type QuantBits = 4 | 8

/** Block sizes `MatMulNBits` accepts (powers of two from 16). */
export type QuantBlockSize = 16 | 32 | 64 | 128 | 256

export interface QuantizeOptions {
  readonly bits: QuantBits
  readonly blockSize: QuantBlockSize
}

/**
 * A weight quantized for onnxruntime's `com.microsoft::MatMulNBits`, symmetric, one scale per
 * block of `blockSize` consecutive input features of one output row. Stored values are
 * `q + 2^(bits-1)` (the op's implicit zero point when no zero-point input is given).
 */
export interface BlockwiseQuantized {
  readonly bits: QuantBits
  readonly blockSize: QuantBlockSize
  /** Output features (rows of the PyTorch weight). */
  readonly n: number
  /** Input features, unpadded (the op's `K` attribute). */
  readonly k: number
  /** `ceil(k / blockSize)`: the last block is zero-padded when `k` is not a multiple. */
  readonly kBlocks: number
  /** `B`: uint8 `[n, kBlocks, blockSize * bits / 8]`; for 4 bits the even element is the low nibble. */
  readonly packed: Uint8Array
  /** Shape of `packed`. */
  readonly dims: readonly [number, number, number]
  /** One scale per block, `[n * kBlocks]` row-major (`n` outer). May be negative. */
  readonly scales: Float32Array
  /** Shape of `scales` as `MatMulNBits` takes it: `[n * kBlocks]`. */
  readonly scalesDims: readonly [number]
}

const BLOCK_SIZES: ReadonlyArray<number> = [16, 32, 64, 128, 256]

const nonFinite = (weight: Float32Array, row: number, rowStart: number, k: number) => {
  let i = 0
  while (i < k && Number.isFinite(weight[rowStart + i]!)) i++
  return new GraphBuildError({
    reason: `quantization: weight row ${row} holds a non-finite value (${weight[rowStart + i]}) at input ${i}`,
  })
}

const checkOptions = ({ bits, blockSize }: QuantizeOptions) => {
  if (bits !== 4 && bits !== 8)
    throw new GraphBuildError({ reason: `quantization: bits must be 4 or 8, got ${bits}` })
  if (!BLOCK_SIZES.includes(blockSize))
    throw new GraphBuildError({
      reason: `quantization: blockSize must be one of ${BLOCK_SIZES.join(", ")}, got ${blockSize}`,
    })
}

/**
 * Quantize a PyTorch `Linear` weight (`[n = out, k = in]`, row-major) block-wise and symmetrically.
 * Each block's scale maps its largest-magnitude value exactly onto the most negative level
 * (`-2^(bits-1)`), as llama.cpp's Q4_0/Q8_0 do: the step is `max|w| / 2^(bits-1)`, finer than
 * `max|w| / (2^(bits-1) - 1)`, and only values of the opposite sign near `max|w|` clip by up to one step.
 */
export const quantizeBlockwise = (
  weight: Float32Array,
  shape: readonly [number, number],
  options: QuantizeOptions,
): BlockwiseQuantized => {
  checkOptions(options)
  const [n, k] = shape
  if (!Number.isInteger(n) || !Number.isInteger(k) || n <= 0 || k <= 0)
    throw new GraphBuildError({
      reason: `quantization: shape [${shape}] is not a positive 2-D [out, in] shape`,
    })
  if (weight.length !== n * k)
    throw new GraphBuildError({
      reason: `quantization: ${weight.length} values for shape [${n}, ${k}] (needs ${n * k})`,
    })
  const { bits, blockSize } = options
  const kBlocks = Math.ceil(k / blockSize)
  const blobBytes = (blockSize * bits) / 8
  const zeroPoint = 2 ** (bits - 1)
  const top = 2 ** bits - 1
  const packed = new Uint8Array(n * kBlocks * blobBytes)
  const scales = new Float32Array(n * kBlocks)
  for (let row = 0; row < n; row++) {
    const rowStart = row * k
    for (let block = 0; block < kBlocks; block++) {
      const begin = rowStart + block * blockSize
      const end = rowStart + Math.min((block + 1) * blockSize, k)
      let extreme = 0
      let largest = 0
      let poison = 0 // stays 0 unless a value is NaN or infinite (x * 0 is NaN for those)
      for (let i = begin; i < end; i++) {
        const v = weight[i]!
        const magnitude = v < 0 ? -v : v
        poison += v * 0
        if (magnitude > largest) {
          largest = magnitude
          extreme = v
        }
      }
      if (poison !== 0) throw nonFinite(weight, row, rowStart, k)
      // Rounded to f32 first so that what we quantize against is what the op dequantizes with.
      const scale = extreme === 0 ? 0 : Math.fround(extreme / -zeroPoint)
      const inverse = scale === 0 ? 0 : 1 / scale
      scales[row * kBlocks + block] = scale
      const out = (row * kBlocks + block) * blobBytes
      // w * inverse lies in [-zeroPoint, zeroPoint] (up to f32 rounding of the scale), so
      // `+ zeroPoint + 0.5` is non-negative (truncation toward 0 covers f32 dust) and `| 0` is floor:
      // round half up, then clip the one level past the top.
      if (bits === 8) {
        packed.fill(zeroPoint, out, out + blobBytes)
        for (let i = begin, j = out; i < end; i++, j++) {
          const level = (weight[i]! * inverse + zeroPoint + 0.5) | 0
          packed[j] = Math.min(level, top)
        }
      } else {
        packed.fill(zeroPoint | (zeroPoint << 4), out, out + blobBytes)
        for (let i = begin; i < end; i++) {
          const raw = (weight[i]! * inverse + zeroPoint + 0.5) | 0
          const level = Math.min(raw, top)
          const offset = i - begin
          const j = out + (offset >> 1)
          packed[j] = offset & 1 ? (packed[j]! & 0x0f) | (level << 4) : (packed[j]! & 0xf0) | level
        }
      }
    }
  }
  return {
    bits,
    blockSize,
    n,
    k,
    kBlocks,
    packed,
    dims: [n, kBlocks, blobBytes],
    scales,
    scalesDims: [n * kBlocks],
  }
}

/** The weight `MatMulNBits` computes with, back in PyTorch layout `[n, k]`: `(stored - zeroPoint) * scale`. */
export const dequantizeBlockwise = (q: BlockwiseQuantized): Float32Array => {
  const { bits, blockSize, n, k, kBlocks, packed, scales } = q
  const blobBytes = (blockSize * bits) / 8
  const zeroPoint = 2 ** (bits - 1)
  const out = new Float32Array(n * k)
  for (let row = 0; row < n; row++)
    for (let block = 0; block < kBlocks; block++) {
      const scale = scales[row * kBlocks + block]!
      const blob = (row * kBlocks + block) * blobBytes
      const begin = block * blockSize
      const end = Math.min(begin + blockSize, k)
      for (let i = begin; i < end; i++) {
        const j = i - begin
        const stored = bits === 8 ? packed[blob + j]! : (packed[blob + (j >> 1)]! >> ((j & 1) * 4)) & 0xf
        out[row * k + i] = Math.fround((stored - zeroPoint) * scale)
      }
    }
  return out
}
