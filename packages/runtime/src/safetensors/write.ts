import * as fs from "node:fs"
import { DTYPE_BYTES, type DType } from "../dtype.ts"
import { SafetensorsFormatError } from "../errors.ts"

/** A tensor to write: its bytes, or a function that produces them chunk by chunk (for files larger than memory). */
export interface TensorToWrite {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly data: Uint8Array | ArrayBufferView | ((emit: (chunk: Uint8Array) => void) => void)
}

const bytesOf = (view: Uint8Array | ArrayBufferView) =>
  view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)

const writeAll = (fd: number, bytes: Uint8Array) => {
  for (let done = 0; done < bytes.byteLength; ) done += fs.writeSync(fd, bytes, done)
}

/**
 * Write a safetensors file, streaming each tensor's data; the header is padded to 8 bytes like upstream.
 * Throws `SafetensorsFormatError` (duplicate names, a tensor whose data does not match its shape);
 * a partly written file is removed.
 */
export const writeSafetensors = (
  path: string,
  tensors: ReadonlyArray<TensorToWrite>,
  metadata?: Record<string, string>,
): void => {
  const fail = (reason: string) => new SafetensorsFormatError({ path, reason })
  const header: Record<string, unknown> = {}
  if (metadata) header.__metadata__ = metadata
  const spans: Array<number> = []
  let offset = 0
  for (const t of tensors) {
    if (t.name === "__metadata__" || Object.hasOwn(header, t.name))
      throw fail(`tensor name "${t.name}" is ${t.name === "__metadata__" ? "reserved" : "used twice"}`)
    const length = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] }
    spans.push(length)
    offset += length
  }
  let json = Buffer.from(JSON.stringify(header), "utf8")
  const padded = Math.ceil(json.length / 8) * 8
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)])
  const fd = fs.openSync(path, "w")
  let complete = false
  try {
    const length = Buffer.alloc(8)
    length.writeBigUInt64LE(BigInt(json.length))
    writeAll(fd, length)
    writeAll(fd, json)
    tensors.forEach((t, index) => {
      let written = 0
      const emit = (chunk: Uint8Array) => {
        writeAll(fd, chunk)
        written += chunk.byteLength
      }
      if (typeof t.data === "function") t.data(emit)
      else emit(bytesOf(t.data))
      if (written !== spans[index])
        throw fail(
          `tensor "${t.name}" (${t.dtype}[${t.shape}]) has ${written} bytes of data; its shape needs ${spans[index]}`,
        )
    })
    complete = true
  } finally {
    fs.closeSync(fd)
    if (!complete) fs.rmSync(path, { force: true })
  }
}
