import { type ChildProcess, spawn } from "node:child_process"

/** Samples the GPU's used memory with `nvidia-smi` every 100 ms; `peak` since the last `mark`. */
export interface GpuMemorySampler {
  readonly available: () => boolean
  readonly mark: () => void
  /** MiB: highest used since `mark`, or undefined without `nvidia-smi`. */
  readonly peakMiB: () => number | undefined
  readonly currentMiB: () => number | undefined
  readonly stop: () => void
}

export const startGpuMemorySampler = (): GpuMemorySampler => {
  let child: ChildProcess | undefined
  let current: number | undefined
  let peak: number | undefined
  try {
    child = spawn("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"], {
      stdio: ["ignore", "pipe", "ignore"],
    })
    child.on("error", () => {
      child = undefined
    })
    let buffer = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop() ?? ""
      for (const line of lines) {
        const v = Number(line.trim().split(/\s+/)[0])
        if (!Number.isFinite(v)) continue
        current = v
        peak = peak === undefined ? v : Math.max(peak, v)
      }
    })
    child.unref()
  } catch {
    child = undefined
  }
  return {
    available: () => current !== undefined,
    mark: () => {
      peak = current
    },
    peakMiB: () => peak,
    currentMiB: () => current,
    stop: () => {
      child?.kill()
    },
  }
}
