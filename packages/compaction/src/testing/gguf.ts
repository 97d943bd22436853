// A minimal GGUF (version 3) writer: enough to produce small F32 models for tests.
//
// File layout, all little-endian:
//   magic "GGUF" | u32 version (3) | u64 tensor count | u64 metadata count
//   metadata:     string key | u32 value type | value
//                 (a string is u64 byte length + UTF-8 bytes; an array is u32 element type + u64 count + elements)
//   tensor infos: string name | u32 n_dims | u64 dims[n_dims] (fastest-varying first) | u32 ggml type | u64 offset
//                 (offset is relative to the start of the data section and a multiple of the alignment)
//   zero padding up to the alignment (32 unless `general.alignment` says otherwise)
//   data section: each tensor's bytes at its offset, zero padding between tensors
import * as fs from "node:fs"

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
const VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
} as const
/** ggml tensor type of every tensor written here. */
const GGML_TYPE_F32 = 0

type ScalarType = "u32" | "i32" | "f32" | "bool" | "string"

export type GgufValue =
  | { readonly type: "u32" | "i32" | "f32"; readonly value: number }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | {
      readonly type: "array"
      readonly of: ScalarType
      readonly value: ReadonlyArray<number | string | boolean>
    }

export interface GgufTensor {
  readonly name: string
  /** ggml order: dims[0] varies fastest (a [rows, cols] row-major matrix is dims [cols, rows]). */
  readonly dims: ReadonlyArray<number>
  readonly data: Float32Array
}

/** Appends little-endian values to a growing byte array. */
class ByteWriter {
  private bytes = new Uint8Array(1 << 16)
  private view = new DataView(this.bytes.buffer)
  length = 0

  private reserve(n: number) {
    if (this.length + n <= this.bytes.length) return
    let size = this.bytes.length * 2
    while (size < this.length + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
    this.view = new DataView(grown.buffer)
  }
  u8(v: number) {
    this.reserve(1)
    this.view.setUint8(this.length, v)
    this.length += 1
  }
  u32(v: number) {
    this.reserve(4)
    this.view.setUint32(this.length, v, true)
    this.length += 4
  }
  i32(v: number) {
    this.reserve(4)
    this.view.setInt32(this.length, v, true)
    this.length += 4
  }
  f32(v: number) {
    this.reserve(4)
    this.view.setFloat32(this.length, v, true)
    this.length += 4
  }
  u64(v: number) {
    this.reserve(8)
    this.view.setBigUint64(this.length, BigInt(v), true)
    this.length += 8
  }
  raw(b: Uint8Array) {
    this.reserve(b.length)
    this.bytes.set(b, this.length)
    this.length += b.length
  }
  string(s: string) {
    const utf8 = new TextEncoder().encode(s)
    this.u64(utf8.length)
    this.raw(utf8)
  }
  padTo(alignment: number) {
    const n = (alignment - (this.length % alignment)) % alignment
    this.raw(new Uint8Array(n))
  }
  result(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

const writeScalar = (out: ByteWriter, type: ScalarType, value: number | string | boolean) => {
  switch (type) {
    case "u32":
      return out.u32(value as number)
    case "i32":
      return out.i32(value as number)
    case "f32":
      return out.f32(value as number)
    case "bool":
      return out.u8(value ? 1 : 0)
    case "string":
      return out.string(value as string)
  }
}

const alignUp = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment

/** Serialise metadata and F32 tensors as a GGUF v3 file. */
export const encodeGguf = (
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>,
  alignment = 32,
): Uint8Array => {
  const out = new ByteWriter()
  out.raw(new TextEncoder().encode("GGUF"))
  out.u32(3)
  out.u64(tensors.length)
  out.u64(metadata.length)
  for (const [key, entry] of metadata) {
    out.string(key)
    out.u32(VALUE_TYPE[entry.type])
    if (entry.type === "array") {
      out.u32(VALUE_TYPE[entry.of])
      out.u64(entry.value.length)
      for (const item of entry.value) writeScalar(out, entry.of, item)
    } else writeScalar(out, entry.type, entry.value)
  }
  const offsets: Array<number> = []
  let dataSize = 0
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1)
    if (elements !== tensor.data.length)
      throw new Error(
        `GGUF tensor ${tensor.name}: dims ${tensor.dims.join("x")} need ${elements} values, got ${tensor.data.length}`,
      )
    offsets.push(dataSize)
    dataSize = alignUp(dataSize + tensor.data.byteLength, alignment)
  }
  tensors.forEach((tensor, i) => {
    out.string(tensor.name)
    out.u32(tensor.dims.length)
    for (const d of tensor.dims) out.u64(d)
    out.u32(GGML_TYPE_F32)
    out.u64(offsets[i]!)
  })
  out.padTo(alignment)
  const dataStart = out.length
  tensors.forEach((tensor, i) => {
    out.raw(new Uint8Array(dataStart + offsets[i]! - out.length))
    out.raw(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
  })
  return out.result()
}

export const writeGguf = (
  path: string,
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>,
): void => fs.writeFileSync(path, encodeGguf(metadata, tensors))
