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
}

interface TraceEvent {
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

/** Break the median `model_run` of a Chrome-trace profile down by operator type. */
export const summarizeProfile = (file: string): ProfileSummary => {
  const events = JSON.parse(fs.readFileSync(file, "utf8")) as TraceEvent[]
  const runs = events
    .filter((e) => e.cat === "Session" && e.name === "model_run")
    .sort((a, b) => (a.dur ?? 0) - (b.dur ?? 0))
  const median = runs[Math.floor(runs.length / 2)]
  if (!median) return { file, runs: 0, medianRunMs: 0, nodeMs: 0, nodes: 0, byOp: [] }
  const start = median.ts ?? 0
  const end = start + (median.dur ?? 0)
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
  return {
    file,
    runs: runs.length,
    medianRunMs: (median.dur ?? 0) / 1000,
    nodeMs,
    nodes,
    byOp: [...byOp].map(([op, v]) => ({ op, ...v })).sort((a, b) => b.ms - a.ms),
  }
}
