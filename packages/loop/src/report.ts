import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect } from "effect"
import type { Pace } from "./options.ts"
import type { SwitchReason } from "./switchPolicy.ts"
import type { DialogueTurn, UserTranscriptReport } from "./userSide.ts"

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
  /** With a Transcriber: what the user said in this window, and both speakers' turns in order. */
  readonly userText?: string
  readonly turns?: ReadonlyArray<DialogueTurn>
}

/**
 * Which compaction: the one at the switch (no early compaction), the early one before the cut, or
 * the redo at the switch on what was said after the early one's transcript.
 */
export type CompactionStage = "at_switch" | "early" | "redo"

export interface SwitchReport {
  readonly afterWindow: number
  /** Why the window ended: `duration` (fixed), `pause` (both sides silent), `max_duration` (no pause came). */
  readonly reason: SwitchReason
  /** How long the user had been silent at the cut, by the VoiceActivity layer (absent without one). */
  readonly userSilentMs?: number
  /** How long the agent's text stream had been padding at the cut. */
  readonly agentSilentMs: number
  readonly compaction: {
    readonly prompt: string
    readonly source: "model" | "fallback"
    readonly reason?: string
    /** Compactor time for this switch, all stages together. */
    readonly durationMs: number
    /** The early compaction, when the loop ran one. */
    readonly early?: {
      /** Input time between its start and the cut (frames × 80 ms). */
      readonly leadMs: number
      /** The compaction time it planned for (learned, or the configured guess). */
      readonly expectedMs: number
      readonly durationMs: number
      /** Words said after its transcript (both sides). */
      readonly newWords: number
      /** Whether those words made the loop compact again (`redoMinWords`). */
      readonly redone: boolean
      readonly redoMs?: number
    }
  }
  /** Frames of the thinking clip played (the last one faded out when it was cut short). */
  readonly clipFrames: number
  /** Present when the next window was ready before the clip's end and the clip stopped early. */
  readonly clipCutShort?: true
  readonly silenceFrames: number
  readonly droppedInputFrames: number
  /** Wall time from the previous window's last frame to the next window being ready. */
  readonly pauseMs: number
  /**
   * The part of the pause spent waiting for the compaction (an early one still running, a redo,
   * or the whole compaction without early compaction); the rest is the clip and the prompt injection.
   */
  readonly compactionWaitMs: number
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
  /** The agent's text, a line per window; with a Transcriber, both speakers' lines ("User: …", "Agent: …") in order. */
  readonly transcript: string
  /** The transcriber that heard the user, when one ran. */
  readonly userTranscript?: UserTranscriptReport
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
