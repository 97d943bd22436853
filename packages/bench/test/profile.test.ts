import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { summarizeGpuKernels, summarizeProfile, type TraceEvent } from "../src/profile.ts"

const run = (ts: number, dur: number): TraceEvent => ({ cat: "Session", name: "model_run", ts, dur })
const node = (op: string, ts: number, dur: number): TraceEvent => ({
  cat: "Node",
  name: `${op}_kernel_time`,
  ts,
  dur,
  args: { op_name: op },
})
const gpu = (name: string, dur: number): TraceEvent => ({ cat: "Api", name, ts: 0, dur })

// Four runs: three steps and one prefill. Per step, the MatMulNBits node runs one program (40 µs),
// the attention node two (10 µs each); the prefill runs them slower plus a prefill-only program.
const steps = [1, 2, 3].flatMap(() => [
  gpu("l0.q&MatMulNBits&MatMulNBitsWide", 40),
  gpu("l0.attn&GroupQueryAttention&Scores", 10),
  gpu("l0.attn&GroupQueryAttention&Scores", 10),
])
const prefill = [
  gpu("l0.q&MatMulNBits&MatMulNBitsWide", 900),
  gpu("l0.attn&GroupQueryAttention&Scores", 300),
  gpu("l0.attn&GroupQueryAttention&Scores", 300),
  gpu("l0.attn&GroupQueryAttention&FlashPrefill", 500),
]
const events: Array<TraceEvent> = [
  run(0, 5000),
  node("MatMulNBits", 100, 30),
  run(10_000, 100),
  node("MatMulNBits", 10_010, 20),
  run(20_000, 120),
  node("MatMulNBits", 20_010, 25),
  run(30_000, 110),
  node("MatMulNBits", 30_010, 22),
  ...prefill,
  ...steps,
]

describe("profile summary", () => {
  it("GPU kernels: each program counted as often per run as it ran, at its median time", () => {
    const summary = summarizeGpuKernels(events, 4)
    expect(summary).toBeDefined()
    expect(summary!.kernels).toBe(3)
    expect(summary!.ms).toBeCloseTo(0.04 + 2 * 0.01, 9)
    expect(summary!.byOp).toEqual([
      { op: "MatMulNBits", ms: 0.04, kernels: 1 },
      { op: "GroupQueryAttention", ms: 0.02, kernels: 2 },
    ])
  })

  it("a trace without GPU timestamps has no GPU summary", () => {
    expect(
      summarizeGpuKernels(
        events.filter((e) => e.cat !== "Api"),
        4,
      ),
    ).toBeUndefined()
  })

  it("the file summary takes the median run's host times and adds the GPU kernels", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "profile-")), "p.json")
    fs.writeFileSync(file, JSON.stringify(events))
    const summary = summarizeProfile(file)
    expect(summary.runs).toBe(4)
    expect(summary.medianRunMs).toBe(0.12)
    expect(summary.nodes).toBe(1)
    expect(summary.nodeMs).toBeCloseTo(0.025, 9)
    expect(summary.gpu?.kernels).toBe(3)
  })
})
