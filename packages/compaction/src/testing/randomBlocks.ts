// Random quantized weights in ggml's block layouts (ggml-common.h), with finite fp16 scales chosen so
// the dequantized weights have a standard deviation near `std` and a mean near zero: a model of such
// blocks computes finite activations through dozens of layers.
import { GGML_TYPES, type GgmlType } from "./gguf.ts"

/** IEEE half-precision bits of a finite, normal-range float (round to nearest). */
export const toFloat16Bits = (value: number): number => {
  const f32 = new Float32Array([value])
  const bits = new Uint32Array(f32.buffer)[0]!
  const sign = (bits >>> 16) & 0x8000
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15
  const mantissa = bits & 0x7fffff
  if (exponent <= 0 || exponent >= 31) throw new Error(`float16: ${value} is outside the normal range`)
  // A mantissa that rounds up to 1024 carries into the exponent, as it should.
  return sign | ((exponent << 10) + ((mantissa + 0x1000) >>> 13))
}

const xorshift = (seed: number) => {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
}

/** `count` random blocks of `type` (a quantized type: Q8_0, Q4_K or Q6_K). */
export const randomBlocks = (
  type: Exclude<GgmlType, "F32" | "F16">,
  count: number,
  seed: number,
  std = 0.02,
) => {
  const { blockBytes } = GGML_TYPES[type]
  const bytes = new Uint8Array(count * blockBytes)
  const view = new DataView(bytes.buffer)
  const next = xorshift(seed)
  const byte = () => next() & 0xff
  for (let b = 0; b < count; b++) {
    const at = b * blockBytes
    if (type === "Q8_0") {
      // w = d * q, q uniform in [-127, 127] (std 73.3)
      view.setUint16(at, toFloat16Bits(std / 73.3), true)
      for (let i = 0; i < 32; i++) view.setInt8(at + 2 + i, (next() % 255) - 127)
    } else if (type === "Q4_K") {
      // 8 sub-blocks of 32: w = d * sc * q - dmin * m with q in 0..15; m = 7.5 sc centres them (std ≈ 4.6 d sc).
      const d = std / (4.6 * 4.5)
      view.setUint16(at, toFloat16Bits(d), true)
      view.setUint16(at + 2, toFloat16Bits(d), true)
      const sc = Array.from({ length: 8 }, () => 1 + (next() % 8))
      const m = sc.map((s) => Math.round(7.5 * s))
      // get_scale_min_k4's 6-bit packing of 8 scales and 8 mins into 12 bytes.
      for (let j = 0; j < 4; j++) {
        bytes[at + 4 + j] = sc[j]! | ((sc[j + 4]! >> 4) << 6)
        bytes[at + 4 + j + 4] = m[j]! | ((m[j + 4]! >> 4) << 6)
        bytes[at + 4 + j + 8] = (sc[j + 4]! & 15) | ((m[j + 4]! & 15) << 4)
      }
      for (let i = 0; i < 128; i++) bytes[at + 16 + i] = byte()
    } else {
      // Q6_K: ql[128], qh[64], 16 int8 scales, d; w = d * scale * (q - 32) with q in 0..63 (std ≈ 18.5).
      for (let i = 0; i < 192; i++) bytes[at + i] = byte()
      for (let i = 0; i < 16; i++) view.setInt8(at + 192 + i, 1 + (next() % 16))
      view.setUint16(at + 208, toFloat16Bits(std / (18.5 * 8.5)), true)
    }
  }
  return bytes
}
