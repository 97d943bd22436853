/** Worker thread of `convertWeights`: runs conversion jobs as they arrive. */
import { parentPort } from "node:worker_threads"
import { type ConvertJob, FileCache, runConvertJob } from "./job.ts"

const port = parentPort!
const files = new FileCache()
port.on("message", (message: { readonly id: number; readonly job?: ConvertJob; readonly close?: true }) => {
  if (message.close) {
    files.close()
    port.postMessage({ id: message.id, ok: true })
    return
  }
  try {
    runConvertJob(message.job!, files)
    port.postMessage({ id: message.id, ok: true })
  } catch (error) {
    port.postMessage({ id: message.id, ok: false, reason: (error as Error).message ?? String(error) })
  }
})
