// A minimal GGUF (version 3) writer: small F32 models in memory for tests, and streamed models of any
// size in the F32, F16, Q8_0, Q4_K and Q6_K tensor types (random-weight models of real sizes).
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
/** ggml tensor types this writer knows (ggml.h `enum ggml_type`), with their block shapes. */
export const GGML_TYPES = {
  F32: { id: 0, blockElements: 1, blockBytes: 4 },
  F16: { id: 1, blockElements: 1, blockBytes: 2 },
  Q8_0: { id: 8, blockElements: 32, blockBytes: 34 },
  Q4_K: { id: 12, blockElements: 256, blockBytes: 144 },
  Q6_K: { id: 14, blockElements: 256, blockBytes: 210 },
} as const

export type GgmlType = keyof typeof GGML_TYPES

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

/** A tensor of any type whose bytes are produced in chunks while the file is written (multi-GB models). */
export interface GgufTensorSource {
  readonly name: string
  readonly dims: ReadonlyArray<number>
  readonly type: GgmlType
  /** Exactly `tensorBytes(type, dims)` bytes, in order. */
  readonly chunks: () => Iterable<Uint8Array>
}

/** Bytes of a tensor: whole blocks along dims[0] (ggml rows). */
export const tensorBytes = (type: GgmlType, dims: ReadonlyArray<number>): number => {
  const { blockElements, blockBytes } = GGML_TYPES[type]
  const elements = dims.reduce((a, b) => a * b, 1)
  if ((dims[0] ?? 1) % blockElements !== 0)
    throw new Error(`GGUF ${type} tensor: rows of ${dims[0]} are not whole blocks of ${blockElements}`)
  return (elements / blockElements) * blockBytes
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

interface TensorInfo {
  readonly name: string
  readonly dims: ReadonlyArray<number>
  readonly type: GgmlType
  readonly bytes: number
}

/** Header, metadata and tensor infos, padded to the alignment; then each tensor at `offsets[i]` of the data. */
const encodeHeader = (
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<TensorInfo>,
  alignment: number,
) => {
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
    offsets.push(dataSize)
    dataSize = alignUp(dataSize + tensor.bytes, alignment)
  }
  tensors.forEach((tensor, i) => {
    out.string(tensor.name)
    out.u32(tensor.dims.length)
    for (const d of tensor.dims) out.u64(d)
    out.u32(GGML_TYPES[tensor.type].id)
    out.u64(offsets[i]!)
  })
  out.padTo(alignment)
  return { header: out.result(), offsets, dataSize }
}

/** Serialise metadata and F32 tensors as a GGUF v3 file. */
export const encodeGguf = (
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>,
  alignment = 32,
): Uint8Array => {
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1)
    if (elements !== tensor.data.length)
      throw new Error(
        `GGUF tensor ${tensor.name}: dims ${tensor.dims.join("x")} need ${elements} values, got ${tensor.data.length}`,
      )
  }
  const { header, offsets, dataSize } = encodeHeader(
    metadata,
    tensors.map((t) => ({ name: t.name, dims: t.dims, type: "F32" as const, bytes: t.data.byteLength })),
    alignment,
  )
  const file = new Uint8Array(header.length + dataSize)
  file.set(header)
  tensors.forEach((tensor, i) => {
    file.set(
      new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
      header.length + offsets[i]!,
    )
  })
  return file
}

export const writeGguf = (
  path: string,
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>,
): void => fs.writeFileSync(path, encodeGguf(metadata, tensors))

/**
 * Write a GGUF file whose tensors (of any type in {@link GGML_TYPES}) are produced chunk by chunk, so
 * a model of several GB never sits in memory. Returns the file's size in bytes.
 */
export const writeGgufStream = (
  path: string,
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>,
  tensors: ReadonlyArray<GgufTensorSource>,
  alignment = 32,
): number => {
  const infos = tensors.map((t) => ({
    name: t.name,
    dims: t.dims,
    type: t.type,
    bytes: tensorBytes(t.type, t.dims),
  }))
  const { header, offsets, dataSize } = encodeHeader(metadata, infos, alignment)
  const fd = fs.openSync(path, "w")
  try {
    fs.writeSync(fd, header)
    let written = 0
    tensors.forEach((tensor, i) => {
      if (offsets[i]! > written) fs.writeSync(fd, new Uint8Array(offsets[i]! - written))
      written = offsets[i]!
      for (const chunk of tensor.chunks()) {
        fs.writeSync(fd, chunk)
        written += chunk.length
      }
      if (written !== offsets[i]! + infos[i]!.bytes)
        throw new Error(
          `GGUF tensor ${tensor.name}: wrote ${written - offsets[i]!} bytes, expected ${infos[i]!.bytes}`,
        )
    })
    if (dataSize > written) fs.writeSync(fd, new Uint8Array(dataSize - written))
  } finally {
    fs.closeSync(fd)
  }
  return header.length + dataSize
}
