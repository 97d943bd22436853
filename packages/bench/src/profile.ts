import * as fs from "node:fs"
import * as path from "node:path"

/** One run of onnxruntime's session profile, broken down by operator. */
export interface ProfileSummary {
  readonly file: string
  readonly runs: number
  /** The run of median duration (most runs are steps; prefills are the long tail). */
  readonly medianRunMs: number
  /** Sum of the node kernel times inside that run (host side: on WebGPU, recording and dispatch). */
  readonly nodeMs: number
  readonly nodes: number
  /** Per operator type in that run, the most time first. */
  readonly byOp: ReadonlyArray<{ readonly op: string; readonly ms: number; readonly nodes: number }>
  /** The GPU's own kernel times, where the WebGPU provider could time them (timestamp queries). */
  readonly gpu?: GpuKernelSummary
}

/**
 * The GPU time of a typical run, from the WebGPU provider's timestamp events (`node&op&program`).
 * Each program of each node is counted as often per run as it ran on average, at its median time,
 * so the many step runs outweigh the few prefills and a prefill-only program drops out.
 */
export interface GpuKernelSummary {
  readonly ms: number
  readonly kernels: number
  /** Per operator type, the most time first. */
  readonly byOp: ReadonlyArray<{ readonly op: string; readonly ms: number; readonly kernels: number }>
}

export interface TraceEvent {
  readonly cat?: string
  readonly name?: string
  readonly ts?: number
  readonly dur?: number
  readonly args?: { readonly op_name?: string }
}

/** The newest profile onnxruntime wrote for `prefix` (it appends a timestamp and `.json`). */
export const findProfile = (prefix: string): string | undefined => {
  const dir = path.dirname(prefix)
  if (!fs.existsSync(dir)) return undefined
  const base = path.basename(prefix)
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(base) && f.endsWith(".json"))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
}

const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/** The GPU kernel times of a typical run of `runs`, or `undefined` if the trace has none. */
export const summarizeGpuKernels = (
  events: ReadonlyArray<TraceEvent>,
  runs: number,
): GpuKernelSummary | undefined => {
  const byKernel = new Map<string, Array<number>>()
  for (const e of events) {
    if (e.cat !== "Api" || !e.name?.includes("&")) continue
    const durations = byKernel.get(e.name) ?? []
    durations.push((e.dur ?? 0) / 1000)
    byKernel.set(e.name, durations)
  }
  if (byKernel.size === 0 || runs === 0) return undefined
  const byOp = new Map<string, { ms: number; kernels: number }>()
  let ms = 0
  let kernels = 0
  for (const [name, durations] of byKernel) {
    const perRun = Math.round(durations.length / runs)
    if (perRun === 0) continue
    const op = name.split("&")[1] ?? "?"
    const entry = byOp.get(op) ?? { ms: 0, kernels: 0 }
    const kernelMs = median(durations) * perRun
    entry.ms += kernelMs
    entry.kernels += perRun
    byOp.set(op, entry)
    ms += kernelMs
    kernels += perRun
  }
  return { ms, kernels, byOp: [...byOp].map(([op, v]) => ({ op, ...v })).sort((a, b) => b.ms - a.ms) }
}

/** Break the median `model_run` of a Chrome-trace profile down by operator type. */
export const summarizeProfile = (file: string): ProfileSummary => {
  const events = JSON.parse(fs.readFileSync(file, "utf8")) as TraceEvent[]
  const runs = events
    .filter((e) => e.cat === "Session" && e.name === "model_run")
    .sort((a, b) => (a.dur ?? 0) - (b.dur ?? 0))
  const middle = runs[Math.floor(runs.length / 2)]
  if (!middle) return { file, runs: 0, medianRunMs: 0, nodeMs: 0, nodes: 0, byOp: [] }
  const start = middle.ts ?? 0
  const end = start + (middle.dur ?? 0)
  const byOp = new Map<string, { ms: number; nodes: number }>()
  let nodeMs = 0
  let nodes = 0
  for (const e of events) {
    if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time")) continue
    if ((e.ts ?? -1) < start || (e.ts ?? 0) > end) continue
    const ms = (e.dur ?? 0) / 1000
    const op = e.args?.op_name ?? "?"
    const entry = byOp.get(op) ?? { ms: 0, nodes: 0 }
    entry.ms += ms
    entry.nodes++
    byOp.set(op, entry)
    nodeMs += ms
    nodes++
  }
  const gpu = summarizeGpuKernels(events, runs.length)
  return {
    file,
    runs: runs.length,
    medianRunMs: (middle.dur ?? 0) / 1000,
    nodeMs,
    nodes,
    byOp: [...byOp].map(([op, v]) => ({ op, ...v })).sort((a, b) => b.ms - a.ms),
    ...(gpu ? { gpu } : {}),
  }
}
