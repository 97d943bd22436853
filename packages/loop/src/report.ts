import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect } from "effect"
import type { Pace } from "./options.ts"

export type PromptSource = "initial" | "model" | "fallback"

export interface TimingSummary {
  readonly count: number
  readonly meanMs: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

export interface WindowReport {
  readonly index: number
  /** The system prompt injected for this window (wrapped in `<system>` tags). */
  readonly prompt: string
  readonly promptSource: PromptSource
  readonly promptReason?: string
  readonly promptTokens: number
  /** Time spent injecting the prompt (voice + silence + text + silence steps). */
  readonly promptMs: number
  /** Position of the window's first output frame in the output audio. */
  readonly outputStartFrame: number
  readonly inputFrames: number
  /** Frames for which the LM returned no tokens (written as silence). */
  readonly silentOutputFrames: number
  readonly agentText: string
  /** Text tokens outside the tokenizer's vocabulary (left out of `agentText`). */
  readonly unknownTextTokens: number
  readonly frameTimings: TimingSummary
  readonly lateFrames: number
}

export interface SwitchReport {
  readonly afterWindow: number
  readonly compaction: {
    readonly prompt: string
    readonly source: "model" | "fallback"
    readonly reason?: string
    readonly durationMs: number
  }
  readonly clipFrames: number
  readonly silenceFrames: number
  readonly droppedInputFrames: number
  /** Wall time from the previous window's last frame to the next window being ready. */
  readonly pauseMs: number
}

export type RunStatus = "running" | "completed" | "interrupted" | "failed"

export interface RunReport {
  readonly version: 1
  readonly status: RunStatus
  readonly error?: string
  readonly startedAt: string
  readonly endedAt?: string
  readonly pace: Pace
  readonly windowFrames: number
  readonly thinkingClipFrames: number
  readonly meta: Readonly<Record<string, unknown>>
  readonly inputFrames: number
  readonly outputFrames: number
  readonly windows: ReadonlyArray<WindowReport>
  readonly switches: ReadonlyArray<SwitchReport>
  readonly transcript: string
  readonly timings: {
    readonly wallMs: number
    /** Processing wall time / audio time of the output (< 1 keeps up with real time). */
    readonly realTimeFactor: number
    readonly frame: TimingSummary
    readonly encode: TimingSummary
    readonly step: TimingSummary
    readonly decode: TimingSummary
    readonly lateFrames: number
    readonly pauseMs: ReadonlyArray<number>
    /**
     * Wall time from the start of the run (`LoopOptions.startedAtMs`: before the models loaded, when the
     * caller says so) to the first output frame; absent until a frame is out.
     */
    readonly firstFrameMs?: number
  }
}

export const summarize = (values: ReadonlyArray<number>): TimingSummary => {
  if (values.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  const round = (x: number) => Math.round(x * 1000) / 1000
  return {
    count: values.length,
    meanMs: round(values.reduce((s, v) => s + v, 0) / values.length),
    p50Ms: round(at(0.5)),
    p95Ms: round(at(0.95)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted[sorted.length - 1]!),
  }
}

export class ReportWriteError extends Data.TaggedError("ReportWriteError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return `could not write the run report to ${this.path}: ${String(this.cause)}`
  }
}

/** Writes the report atomically (temp file + rename), so a reader never sees half a report. */
export const writeReport = (file: string, report: RunReport): Effect.Effect<void, ReportWriteError> =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true })
      const temp = `${file}.${process.pid}.tmp`
      await fs.writeFile(temp, `${JSON.stringify(report, null, 2)}\n`)
      await fs.rename(temp, file)
    },
    catch: (cause) => new ReportWriteError({ path: file, cause }),
  })
