import * as fs from "node:fs"
import { DTYPE_BYTES, type DType, isDType, widen16InPlace } from "../dtype.ts"
import { MissingTensorError, SafetensorsFormatError } from "../errors.ts"
import { toFloat32 } from "./decode.ts"

/** Where one tensor lives: enough to read it, or to point ONNX external data at it. */
export interface TensorInfo {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  /** Absolute byte offset of the tensor's data in `path`. */
  readonly byteOffset: number
  readonly byteLength: number
  readonly path: string
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024

const elementCount = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/** One `readSync` moves at most 2 GiB and may return less than asked: loop over 1 GiB pieces. */
const readFully = (fd: number, path: string, target: Uint8Array, position: number, what: string) => {
  const piece = 1 << 30
  for (let done = 0; done < target.byteLength; ) {
    const n = fs.readSync(fd, target, done, Math.min(piece, target.byteLength - done), position + done)
    if (n === 0) throw new SafetensorsFormatError({ path, reason: `unexpected end of file reading ${what}` })
    done += n
  }
}

/**
 * One `.safetensors` file, header parsed and validated up front, tensor data read
 * lazily with positioned reads so a 16 GB file never sits in memory.
 * Methods throw the tagged errors of `errors.ts`; `Checkpoint` wraps them in Effect.
 */
export class SafetensorsFile {
  readonly path: string
  private fd: number | undefined
  readonly tensors: ReadonlyMap<string, TensorInfo>
  readonly metadata: Readonly<Record<string, string>>
  readonly fileSize: number

  private constructor(
    path: string,
    fd: number,
    tensors: ReadonlyMap<string, TensorInfo>,
    metadata: Readonly<Record<string, string>>,
    fileSize: number,
  ) {
    this.path = path
    this.fd = fd
    this.tensors = tensors
    this.metadata = metadata
    this.fileSize = fileSize
  }

  static open(path: string): SafetensorsFile {
    let fd: number
    try {
      fd = fs.openSync(path, "r")
    } catch (cause) {
      throw new SafetensorsFormatError({ path, reason: `cannot open: ${(cause as Error).message}` })
    }
    try {
      return SafetensorsFile.parse(path, fd)
    } catch (error) {
      fs.closeSync(fd)
      throw error
    }
  }

  private static parse(path: string, fd: number): SafetensorsFile {
    const fail = (reason: string) => new SafetensorsFormatError({ path, reason })
    const fileSize = fs.fstatSync(fd).size
    if (fileSize < 8) throw fail(`file is ${fileSize} bytes, too short for a safetensors header`)
    const lengthBytes = Buffer.alloc(8)
    readFully(fd, path, lengthBytes, 0, "the header length")
    const headerLength = Number(lengthBytes.readBigUInt64LE(0))
    if (headerLength > MAX_HEADER_BYTES) throw fail(`header length ${headerLength} is implausible`)
    if (8 + headerLength > fileSize)
      throw fail(
        `header of ${headerLength} bytes runs past the end of the file (${fileSize} bytes): truncated?`,
      )
    const headerBytes = Buffer.alloc(headerLength)
    readFully(fd, path, headerBytes, 8, "the header")
    let header: unknown
    try {
      header = JSON.parse(headerBytes.toString("utf8"))
    } catch (cause) {
      throw fail(`header is not valid JSON (${(cause as Error).message})`)
    }
    if (typeof header !== "object" || header === null || Array.isArray(header))
      throw fail("header is not a JSON object")
    const dataStart = 8 + headerLength
    const dataSize = fileSize - dataStart
    const tensors = new Map<string, TensorInfo>()
    let metadata: Record<string, string> = {}
    for (const [name, entry] of Object.entries(header)) {
      if (name === "__metadata__") {
        if (typeof entry !== "object" || entry === null || Array.isArray(entry))
          throw fail(`__metadata__ is not an object of strings`)
        metadata = entry as Record<string, string>
        continue
      }
      const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>
      if (!isDType(dtype)) throw fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`)
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        throw fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`)
      if (
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isInteger(o) && o >= 0)
      )
        throw fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`)
      const [begin, end] = offsets as [number, number]
      const expected = elementCount(shape) * DTYPE_BYTES[dtype]
      if (end - begin !== expected)
        throw fail(
          `tensor "${name}" spans ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${expected}`,
        )
      if (end > dataSize)
        throw fail(
          `tensor "${name}" ends at byte ${end} of the data section but the file holds only ${dataSize}: truncated?`,
        )
      tensors.set(name, { name, dtype, shape, byteOffset: dataStart + begin, byteLength: expected, path })
    }
    return new SafetensorsFile(path, fd, tensors, metadata, fileSize)
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name)
    if (!info) throw new MissingTensorError({ tensor: name, path: this.path })
    return info
  }

  /** The tensor's raw little-endian bytes, read from disk now. */
  readBytes(name: string): Uint8Array {
    const out = new Uint8Array(this.info(name).byteLength)
    this.readInto(name, out)
    return out
  }

  /** Read the tensor's raw bytes into `target` (exactly `byteLength` bytes long). */
  readInto(name: string, target: Uint8Array): void {
    const info = this.info(name)
    if (this.fd === undefined) throw new SafetensorsFormatError({ path: this.path, reason: "file is closed" })
    if (target.byteLength !== info.byteLength)
      throw new SafetensorsFormatError({
        path: this.path,
        reason: `tensor "${name}" is ${info.byteLength} bytes; the target holds ${target.byteLength}`,
      })
    readFully(this.fd, this.path, target, info.byteOffset, `tensor "${name}"`)
  }

  /** The tensor widened to Float32; F16/BF16 are read into the result's upper half and widened in place. */
  readFloat32(name: string): Float32Array {
    return this.readRegionFloat32(this.info(name))
  }

  /**
   * The bytes `info` describes, widened to Float32: a whole tensor of this file, or a region of one
   * (rows of a stacked tensor, `byteOffset`/`byteLength` narrowed by the caller).
   */
  readRegionFloat32(info: TensorInfo): Float32Array {
    const whole = this.info(info.name)
    const bytes = DTYPE_BYTES[whole.dtype]
    if (
      info.byteOffset < whole.byteOffset ||
      info.byteOffset + info.byteLength > whole.byteOffset + whole.byteLength ||
      (info.byteOffset - whole.byteOffset) % bytes !== 0 ||
      info.byteLength % bytes !== 0
    )
      throw new SafetensorsFormatError({
        path: this.path,
        reason: `bytes ${info.byteOffset}..${info.byteOffset + info.byteLength} are not whole elements of tensor "${info.name}" (bytes ${whole.byteOffset}..${whole.byteOffset + whole.byteLength})`,
      })
    if (this.fd === undefined) throw new SafetensorsFormatError({ path: this.path, reason: "file is closed" })
    const what = `tensor "${info.name}"`
    if (whole.dtype !== "BF16" && whole.dtype !== "F16") {
      const raw = new Uint8Array(info.byteLength)
      readFully(this.fd, this.path, raw, info.byteOffset, what)
      return toFloat32(whole.dtype, raw)
    }
    const count = info.byteLength / 2
    const out = new Float32Array(count)
    readFully(this.fd, this.path, new Uint8Array(out.buffer, 2 * count, 2 * count), info.byteOffset, what)
    return widen16InPlace(out, whole.dtype)
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd)
    this.fd = undefined
  }
}
