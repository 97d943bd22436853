import * as fs from "node:fs"
import { DTYPE_BYTES, type DType } from "../dtype.ts"

/** A tensor to write: its bytes, or a function that produces them chunk by chunk (for files larger than memory). */
export interface TensorToWrite {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly data: Uint8Array | ArrayBufferView | ((emit: (chunk: Uint8Array) => void) => void)
}

const bytesOf = (view: Uint8Array | ArrayBufferView) =>
  view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)

/** Write a safetensors file, streaming each tensor's data; the header is padded to 8 bytes like upstream. */
export const writeSafetensors = (
  path: string,
  tensors: ReadonlyArray<TensorToWrite>,
  metadata?: Record<string, string>,
): void => {
  const header: Record<string, unknown> = {}
  if (metadata) header.__metadata__ = metadata
  let offset = 0
  for (const t of tensors) {
    const length = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  let json = Buffer.from(JSON.stringify(header), "utf8")
  const padded = Math.ceil(json.length / 8) * 8
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)])
  const fd = fs.openSync(path, "w")
  try {
    const length = Buffer.alloc(8)
    length.writeBigUInt64LE(BigInt(json.length))
    fs.writeSync(fd, length)
    fs.writeSync(fd, json)
    for (const t of tensors) {
      const expected = (header[t.name] as { data_offsets: [number, number] }).data_offsets
      let written = 0
      const emit = (chunk: Uint8Array) => {
        for (let done = 0; done < chunk.byteLength; ) done += fs.writeSync(fd, chunk, done)
        written += chunk.byteLength
      }
      if (typeof t.data === "function") t.data(emit)
      else emit(bytesOf(t.data))
      if (written !== expected[1] - expected[0])
        throw new Error(
          `writeSafetensors: "${t.name}" produced ${written} bytes, expected ${expected[1] - expected[0]}`,
        )
    }
  } finally {
    fs.closeSync(fd)
  }
}
