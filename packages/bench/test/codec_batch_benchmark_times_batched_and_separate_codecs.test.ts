import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, expect, it } from "vitest"
import { renderCodecBatchTable, runCodecBatchBench } from "../src/codecBatchBench.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codec-batch-bench-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

it("times each batch size batched and as separate codecs, and writes the report it prints", async () => {
  const out = path.join(dir, "report.json")
  const report = await runCodecBatchBench({
    provider: "cpu",
    models: "tiny",
    rows: [1, 3],
    ticks: 3,
    warmup: 1,
    graphCapture: false,
    intraOpThreads: 1,
    workDir: dir,
    out,
    command: "test",
  })
  expect(report.results.map((r) => r.rows)).toEqual([1, 3])
  for (const r of report.results)
    for (const t of [r.batched, r.separate]) {
      expect(t.medianMs).toBeGreaterThan(0)
      expect(t.p90Ms).toBeGreaterThanOrEqual(t.medianMs)
    }
  expect(JSON.parse(fs.readFileSync(out, "utf8"))).toEqual(report)
  expect(renderCodecBatchTable(report).split("\n")).toHaveLength(4)
}, 120_000)
