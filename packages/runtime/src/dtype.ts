/** Element types found in safetensors checkpoints, with their byte widths. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const

export type DType = keyof typeof DTYPE_BYTES

export const isDType = (value: unknown): value is DType => typeof value === "string" && value in DTYPE_BYTES

/** bf16 is the upper half of an IEEE f32: widening is exact. */
export const bf16ToFloat32 = (bits: Uint16Array): Float32Array => {
  const out = new Uint32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16
  return new Float32Array(out.buffer)
}

/** Round-to-nearest-even narrowing; NaN stays NaN. */
export const float32ToBf16 = (values: Float32Array): Uint16Array => {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length)
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff
  }
  return out
}

const f16Table = (() => {
  const table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exponent = (h >>> 10) & 0x1f
    const fraction = h & 0x3ff
    if (exponent === 0) table[h] = sign * 2 ** -14 * (fraction / 1024)
    else if (exponent === 31) table[h] = fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY
    else table[h] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
  }
  return table
})()

/**
 * Widen 16-bit floats that sit in the upper half of `out`'s bytes (`out.length` values from byte
 * `2 * out.length`) into `out` itself, front to back: each write only overwrites sources already read.
 * Saves the separate 16-bit buffer (and its page faults) when reading straight from disk.
 */
export const widen16InPlace = (out: Float32Array, dtype: "BF16" | "F16"): Float32Array => {
  const n = out.length
  const src = new Uint16Array(out.buffer, out.byteOffset + 2 * n, n)
  if (dtype === "BF16") {
    const dst = new Uint32Array(out.buffer, out.byteOffset, n)
    for (let i = 0; i < n; i++) dst[i] = src[i]! << 16
  } else for (let i = 0; i < n; i++) out[i] = f16Table[src[i]!]!
  return out
}

export const f16ToFloat32 = (bits: Uint16Array): Float32Array => {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = f16Table[bits[i]!]!
  return out
}

const scratch = new Float32Array(1)
const scratchBits = new Uint32Array(scratch.buffer)

/** Round-to-nearest-even f32 -> f16 (subnormals and overflow to infinity handled). */
export const float32ToF16 = (values: Float32Array): Uint16Array => {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) {
    scratch[0] = values[i]!
    const x = scratchBits[0]!
    const sign = (x >>> 16) & 0x8000
    const exponent = (x >>> 23) & 0xff
    let mantissa = x & 0x7fffff
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0)
      continue
    }
    let e = exponent - 127 + 15
    if (e >= 31) {
      out[i] = sign | 0x7c00
      continue
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign
        continue
      }
      mantissa |= 0x800000
      const shift = 14 - e
      const half = 1 << (shift - 1)
      const rest = mantissa & ((1 << shift) - 1)
      let h = mantissa >>> shift
      if (rest > half || (rest === half && h & 1)) h++
      out[i] = sign | h
      continue
    }
    let h = mantissa >>> 13
    const rest = mantissa & 0x1fff
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) {
      h++
      if (h === 0x400) {
        h = 0
        e++
        if (e >= 31) {
          out[i] = sign | 0x7c00
          continue
        }
      }
    }
    out[i] = sign | (e << 10) | h
  }
  return out
}
