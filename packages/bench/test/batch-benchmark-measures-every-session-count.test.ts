import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { renderBatchTable, runBatchBench } from "../src/batchBench.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-bench-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("the LM batch benchmark (tiny models, CPU provider)", () => {
  it("measures each number of live sessions through LmGen (one) and LmBatch (more), each session with its own codec, and writes its JSON", async () => {
    const out = path.join(dir, "batch.json")
    const report = await runBatchBench({
      provider: "cpu",
      models: "tiny",
      quantization: "int8",
      contexts: [24],
      sessions: [1, 3],
      codec: "cpu",
      ticks: 4,
      warmup: 1,
      workDir: dir,
      out,
      log: () => {},
    })
    expect(report.runs.map((r) => [r.sessions, r.graphRows, r.error])).toEqual([
      [1, 1, undefined],
      [3, 4, undefined],
    ])
    for (const run of report.runs) {
      expect(run.tickMs.n).toBe(4)
      expect(run.sessionFrameP99Ms).toBeGreaterThan(0)
      expect(run.sessionFrameP99Ms).toBeLessThanOrEqual(run.tickMs.max + 1)
      // Each session's own codec: its encode ends before its frame does, its decode after the step.
      expect(run.encodeMs!.n).toBe(4 * run.sessions)
      expect(run.encodeMs!.max).toBeLessThan(run.sessionFrameMaxMs)
      expect(run.decodeMs!.min).toBeGreaterThan(0)
    }
    expect(report.summary["24"]!.largestRealTimeSessions).toBe(
      Math.max(0, ...report.runs.filter((r) => r.realTime).map((r) => r.sessions)),
    )
    expect(JSON.parse(fs.readFileSync(out, "utf8")).runs).toHaveLength(2)
    expect(renderBatchTable(report)).toContain("| 24 | 3 | 4 |")
  }, 120_000)
})
