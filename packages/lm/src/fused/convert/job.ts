import * as fs from "node:fs"
import { bf16ToFloat32, f16ToFloat32, float32ToF16, quantizeBlockwise } from "@personaplex/runtime"
import { type ConvertedTensor, type GpuPrecision, QUANT_BLOCK } from "./layout.ts"

/** One tensor to convert: where its source rows lie and where the result goes. */
export interface ConvertJob {
  readonly tensor: ConvertedTensor
  readonly precision: GpuPrecision
  readonly sourcePath: string
  /** Absolute offset of the whole source tensor's data. */
  readonly sourceOffset: number
  readonly sourceDtype: "BF16" | "F16" | "F32"
  readonly targetPath: string
}

/** Open file descriptors, kept across jobs. */
export class FileCache {
  private readonly fds = new Map<string, number>()
  fd(path: string, flags: "r" | "r+"): number {
    const key = `${flags}:${path}`
    let fd = this.fds.get(key)
    if (fd === undefined) {
      fd = fs.openSync(path, flags)
      this.fds.set(key, fd)
    }
    return fd
  }
  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd)
    this.fds.clear()
  }
}

const readFully = (fd: number, target: Uint8Array, position: number) => {
  let done = 0
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done)
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`)
    done += n
  }
}

const writeFully = (fd: number, view: ArrayBufferView, position: number) => {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  let done = 0
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done)
  }
}

const widen = (raw: Uint8Array, dtype: ConvertJob["sourceDtype"], n: number): Float32Array => {
  if (dtype === "F32") return new Float32Array(raw.buffer, raw.byteOffset, n).slice()
  const bits = new Uint16Array(raw.buffer, raw.byteOffset, n)
  return dtype === "BF16" ? bf16ToFloat32(bits) : f16ToFloat32(bits)
}

/** `[rows, cols]` → `[cols, rows]`, in tiles so that both sides stay in cache. */
const transpose = (w: Float32Array, rows: number, cols: number): Float32Array => {
  const t = new Float32Array(w.length)
  const B = 64
  for (let r0 = 0; r0 < rows; r0 += B)
    for (let c0 = 0; c0 < cols; c0 += B) {
      const r1 = Math.min(r0 + B, rows)
      const c1 = Math.min(c0 + B, cols)
      for (let r = r0; r < r1; r++) {
        const src = r * cols
        for (let c = c0; c < c1; c++) t[c * rows + r] = w[src + c]!
      }
    }
  return t
}

/** Read the job's source rows, convert them, write them to the target file. Synchronous. */
export const runConvertJob = (job: ConvertJob, files: FileCache): void => {
  const { tensor } = job
  const n = tensor.rows * tensor.cols
  const bytesPer = job.sourceDtype === "F32" ? 4 : 2
  const raw = new Uint8Array(n * bytesPer)
  readFully(files.fd(job.sourcePath, "r"), raw, job.sourceOffset + tensor.rowOffset * tensor.cols * bytesPer)
  const values = widen(raw, job.sourceDtype, n)
  const out = files.fd(job.targetPath, "r+")
  const check = (what: string, length: number, expected: number) => {
    if (length !== expected)
      throw new Error(`${tensor.key}: ${what} is ${length} bytes, the layout planned ${expected}`)
  }
  if (tensor.kind === "vector" || tensor.kind === "table") {
    check("data", values.byteLength, tensor.data.length)
    writeFully(out, values, tensor.data.offset)
  } else if (job.precision === "float32" || job.precision === "float16") {
    const transposed = transpose(values, tensor.rows, tensor.cols)
    const stored = job.precision === "float16" ? float32ToF16(transposed) : transposed
    check("data", stored.byteLength, tensor.data.length)
    writeFully(out, stored, tensor.data.offset)
  } else {
    const q = quantizeBlockwise(values, [tensor.rows, tensor.cols], {
      bits: job.precision === "int4" ? 4 : 8,
      blockSize: QUANT_BLOCK,
    })
    check("packed", q.packed.byteLength, tensor.data.length)
    check("scales", q.scales.byteLength, tensor.scales?.length ?? -1)
    writeFully(out, q.packed, tensor.data.offset)
    writeFully(out, q.scales, tensor.scales!.offset)
  }
}
