import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Checkpoint } from "@personaplex/runtime"
import { resolveDepformerTensor, stackedStep } from "../../depformerPatch.ts"
import type { LmConfig } from "../../LmConfig.ts"
import { type ConvertJob, FileCache, runConvertJob } from "./job.ts"
import { type GpuPrecision, planLayout, type WeightLayout } from "./layout.ts"

export interface ConvertOptions {
  /** Upstream-named LM checkpoint (`.safetensors`, BF16/F16/F32). */
  readonly checkpoint: string
  readonly config: LmConfig
  readonly precision: GpuPrecision
  readonly depformerSteps: number
  /** Folder for `weights-<precision>.bin` and its layout JSON. */
  readonly outDir: string
  /** Worker threads (0: convert on this thread). */
  readonly workers: number
  /** Called after each tensor with the bytes of checkpoint read so far and in all. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface ConvertedWeights {
  readonly layout: WeightLayout
  readonly weightsFile: string
  readonly ms: number
}

// Same folder and extension as this module: `src/convert/*.ts` under test, `dist/*.js` when built.
const workerPath = () => {
  const here = fileURLToPath(import.meta.url)
  return path.extname(here) === ".ts"
    ? path.join(path.dirname(here), "worker.ts")
    : path.join(path.dirname(here), "convertWorker.js")
}

const resolveSource = (checkpoint: Checkpoint, name: string): string => {
  const resolved = resolveDepformerTensor((n) => checkpoint.has(n), name)
  if (resolved === undefined) throw new Error(`${checkpoint.source}: tensor "${name}" is missing`)
  return resolved
}

const runPool = async (jobs: ReadonlyArray<ConvertJob>, workers: number, done: (job: ConvertJob) => void) => {
  const pool = Array.from({ length: workers }, () => new Worker(workerPath()))
  let next = 0
  let failure: Error | undefined
  const send = (worker: Worker, message: object) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (reply: { ok: boolean; reason?: string }) => {
        worker.off("error", onError)
        reply.ok ? resolve() : reject(new Error(reply.reason))
      }
      const onError = (error: Error) => {
        worker.off("message", onMessage)
        reject(error)
      }
      worker.once("message", onMessage)
      worker.once("error", onError)
      worker.postMessage({ id: 0, ...message })
    })
  try {
    await Promise.all(
      pool.map(async (worker) => {
        while (failure === undefined && next < jobs.length) {
          const job = jobs[next++]!
          await send(worker, { job }).then(
            () => done(job),
            (e: Error) => {
              failure ??= new Error(`converting ${job.tensor.key} (${job.tensor.source}): ${e.message}`)
            },
          )
        }
        await send(worker, { close: true }).catch(() => undefined)
      }),
    )
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
  if (failure) throw failure
}

/**
 * Convert an upstream LM checkpoint into the file the GPU step graph reads (`planLayout`), one
 * tensor at a time, across `workers` threads (largest tensors first). Throws an `Error` naming the
 * tensor on bad input.
 */
export const convertWeights = async (options: ConvertOptions): Promise<ConvertedWeights> => {
  const t0 = performance.now()
  const layout = planLayout(options.config, options.precision, options.depformerSteps)
  fs.mkdirSync(options.outDir, { recursive: true })
  const weightsFile = path.resolve(options.outDir, `weights-${options.precision}.bin`)
  const fd = fs.openSync(weightsFile, "w")
  fs.ftruncateSync(fd, layout.bytes)
  fs.closeSync(fd)
  const checkpoint = Checkpoint.openSync(options.checkpoint)
  const jobs: ConvertJob[] = Object.values(layout.tensors).map((planned) => {
    const info = checkpoint.infoSync(resolveSource(checkpoint, planned.source))
    const cols = info.shape[info.shape.length - 1]!
    const rows = info.shape.reduce((a, b) => a * b, 1) / cols
    const step =
      planned.stackedStep === undefined
        ? undefined
        : stackedStep(rows, planned.rows, options.depformerSteps, planned.stackedStep)
    if (planned.stackedStep !== undefined && step === undefined)
      throw new Error(
        `${options.checkpoint}: tensor "${info.name}" has shape [${info.shape}]; expected ${options.depformerSteps} (or 8) steps of ${planned.rows} rows`,
      )
    const tensor = step === undefined ? planned : { ...planned, rowOffset: step * planned.rows }
    if (cols !== tensor.cols || rows < tensor.rowOffset + tensor.rows)
      throw new Error(
        `${options.checkpoint}: tensor "${info.name}" has shape [${info.shape}]; the config needs rows ${tensor.rowOffset}..${tensor.rowOffset + tensor.rows} of ${tensor.cols} columns`,
      )
    if (info.dtype !== "BF16" && info.dtype !== "F16" && info.dtype !== "F32")
      throw new Error(
        `${options.checkpoint}: tensor "${info.name}" is ${info.dtype}; BF16, F16 or F32 expected`,
      )
    return {
      tensor,
      precision: options.precision,
      sourcePath: info.path,
      sourceOffset: info.byteOffset,
      sourceDtype: info.dtype,
      targetPath: weightsFile,
    }
  })
  jobs.sort((a, b) => b.tensor.rows * b.tensor.cols - a.tensor.rows * a.tensor.cols)
  const sourceBytes = (job: ConvertJob) =>
    job.tensor.rows * job.tensor.cols * (job.sourceDtype === "F32" ? 4 : 2)
  const totalBytes = jobs.reduce((sum, job) => sum + sourceBytes(job), 0)
  let doneBytes = 0
  const done = (job: ConvertJob) => {
    doneBytes += sourceBytes(job)
    options.onProgress?.(doneBytes, totalBytes)
  }
  if (options.workers <= 0) {
    const files = new FileCache()
    try {
      for (const job of jobs) {
        runConvertJob(job, files)
        done(job)
      }
    } finally {
      files.close()
    }
  } else await runPool(jobs, options.workers, done)
  fs.writeFileSync(`${weightsFile}.layout.json`, JSON.stringify(layout))
  return { layout, weightsFile, ms: performance.now() - t0 }
}
