import type { BenchReport, RunResult, Summary } from "./bench.ts"

const ms = (v: number | undefined, digits = 1) =>
  v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits)
const triple = (s: Summary | undefined) => (s ? `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}` : "–")
const gib = (mib: number | undefined) => (mib === undefined ? "–" : (mib / 1024).toFixed(1))

const HEADER = [
  "config",
  "frame p50/p99/max ms",
  "frame 1 decode p50",
  "sequential frame p50",
  "LM step p50/p99/max",
  "encode p50",
  "decode p50",
  "peak GPU GiB",
  "system prompt ms",
  "restart p50/max ms",
  "restart per-token ms",
  "first frame ms",
]

const row = (r: RunResult): string[] => {
  const name = `${r.precision} ctx ${r.context} ${r.variant}`
  if (r.status !== "ok")
    return [name, `${r.status}: ${(r.error ?? "").slice(0, 120).replace(/\|/g, "/").replace(/\n/g, " ")}`]
  return [
    name,
    triple(r.frameMs),
    ms(r.frameOneDecodeMs?.p50),
    ms(r.schedules?.sequential?.frameMs.p50),
    triple(r.lmStepMs),
    ms(r.encodeMs?.p50),
    ms(r.decodeMs?.p50),
    gib(r.peakGpuMiB),
    ms(r.systemPromptMs, 0),
    r.restartMs ? `${ms(r.restartMs.p50)} / ${ms(r.restartMs.max)}` : "–",
    ms(r.restartPerTokenMs, 0),
    ms(r.timeToFirstFrameMs, 0),
  ]
}

/** The results as a Markdown table, upstream's figures in the first row. */
export const renderTable = (report: BenchReport): string => {
  const u = report.upstream
  const upstream = [
    "upstream PyTorch bf16 ctx 3000 (H100)",
    `${u.frameMs.p50} / ${u.frameMs.p99} / ${u.frameMs.max}`,
    "–",
    `${u.frameMs.p50}`,
    `${u.lmStepMs.p50} / – / –`,
    `${u.encodeMs.p50}`,
    "–",
    `${u.peakGpuGiB}`,
    `${u.systemPromptMs}`,
    "–",
    `${u.systemPromptMs} (full prompt)`,
    `${u.warmupMs} (warm-up)`,
  ]
  const rows = [HEADER, HEADER.map(() => "---"), upstream, ...report.runs.map(row)]
  return rows.map((r) => `| ${r.join(" | ")} |`).join("\n")
}
