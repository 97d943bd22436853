import { bf16ToFloat32, type DType, f16ToFloat32 } from "../dtype.ts"

export type TypedData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array

const aligned = (bytes: Uint8Array, width: number): ArrayBuffer => {
  if (bytes.byteOffset % width === 0) return bytes.buffer as ArrayBuffer
  return bytes.slice().buffer as ArrayBuffer
}

/** View raw little-endian bytes as the dtype's natural JS array (F16/BF16 as raw `Uint16Array` bits). */
export const viewAs = (dtype: DType, bytes: Uint8Array): TypedData => {
  const view = <T>(Ctor: new (b: ArrayBuffer, o: number, l: number) => T, width: number): T => {
    const buffer = aligned(bytes, width)
    const offset = buffer === bytes.buffer ? bytes.byteOffset : 0
    return new Ctor(buffer, offset, bytes.byteLength / width)
  }
  switch (dtype) {
    case "F64":
      return view(Float64Array, 8)
    case "F32":
      return view(Float32Array, 4)
    case "F16":
    case "BF16":
      return view(Uint16Array, 2)
    case "I64":
      return view(BigInt64Array, 8)
    case "I32":
      return view(Int32Array, 4)
    case "I16":
      return view(Int16Array, 2)
    case "I8":
      return view(Int8Array, 1)
    case "U8":
    case "BOOL":
      return bytes
  }
}

/** Any floating or integer dtype widened (or narrowed, for F64/I64) to Float32. */
export const toFloat32 = (dtype: DType, bytes: Uint8Array): Float32Array => {
  const data = viewAs(dtype, bytes)
  switch (dtype) {
    case "F32":
      return data as Float32Array
    case "BF16":
      return bf16ToFloat32(data as Uint16Array)
    case "F16":
      return f16ToFloat32(data as Uint16Array)
    case "I64":
      return Float32Array.from(data as BigInt64Array, Number)
    default:
      return Float32Array.from(data as ArrayLike<number>)
  }
}

/** Integer dtypes as Int32 (I64 values outside the Int32 range are a caller bug and wrap). */
export const toInt32 = (dtype: DType, bytes: Uint8Array): Int32Array => {
  const data = viewAs(dtype, bytes)
  if (dtype === "I32") return data as Int32Array
  if (dtype === "I64") return Int32Array.from(data as BigInt64Array, Number)
  if (dtype === "F32" || dtype === "F64") return Int32Array.from(data as ArrayLike<number>)
  return Int32Array.from(toFloat32(dtype, bytes))
}
