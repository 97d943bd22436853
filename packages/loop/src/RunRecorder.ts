import { FRAME_MS, type Pace } from "./options.ts"
import {
  type PromptSource,
  type RunReport,
  type RunStatus,
  type SwitchReport,
  summarize,
  type WindowReport,
} from "./report.ts"

export interface FrameTiming {
  readonly encodeMs: number
  readonly stepMs: number
  readonly decodeMs: number
  readonly totalMs: number
}

interface OpenWindow {
  index: number
  prompt: string
  promptSource: PromptSource
  promptReason: string | undefined
  promptTokens: number
  promptMs: number
  outputStartFrame: number
  inputFrames: number
  silentOutputFrames: number
  text: string
  totals: Array<number>
  lateFrames: number
  unknownTextTokens: number
}

/**
 * Everything the run report needs, accumulated as the loop goes; `snapshot` can be taken at
 * any moment (the report written on interruption is a snapshot of an unfinished run).
 */
export class RunRecorder {
  private readonly windows: Array<WindowReport> = []
  private readonly switches: Array<SwitchReport> = []
  private open: OpenWindow | undefined
  private readonly encode: Array<number> = []
  private readonly step: Array<number> = []
  private readonly decode: Array<number> = []
  private readonly total: Array<number> = []
  inputFrames = 0
  outputFrames = 0
  private firstFrameAtMs: number | undefined

  constructor(
    private readonly settings: {
      readonly startedAtMs: number
      /** Where `timings.firstFrameMs` counts from (default `startedAtMs`). */
      readonly runStartedAtMs?: number
      readonly pace: Pace
      readonly windowFrames: number
      readonly thinkingClipFrames: number
      readonly meta: Readonly<Record<string, unknown>>
      /** Adds what other parts of the loop know to every snapshot (the user's side of the transcript). */
      readonly annotate?: (report: RunReport) => RunReport
    },
  ) {}

  get windowCount(): number {
    return this.windows.length + (this.open ? 1 : 0)
  }

  openWindow(w: {
    index: number
    prompt: string
    promptSource: PromptSource
    promptReason?: string | undefined
    promptTokens: number
    promptMs: number
  }): void {
    this.open = {
      ...w,
      promptReason: w.promptReason,
      outputStartFrame: this.outputFrames,
      inputFrames: 0,
      silentOutputFrames: 0,
      text: "",
      totals: [],
      lateFrames: 0,
      unknownTextTokens: 0,
    }
  }

  /** Records one processed frame of the open window; returns whether it missed the 80 ms budget. */
  frame(timing: FrameTiming, silent: boolean, text: string, unknownText = false): boolean {
    const w = this.open
    if (!w) throw new Error("RunRecorder.frame called outside a window")
    w.inputFrames++
    if (silent) w.silentOutputFrames++
    if (unknownText) w.unknownTextTokens++
    w.text += text
    w.totals.push(timing.totalMs)
    this.encode.push(timing.encodeMs)
    this.step.push(timing.stepMs)
    this.decode.push(timing.decodeMs)
    this.total.push(timing.totalMs)
    const late = timing.totalMs > FRAME_MS
    if (late) w.lateFrames++
    return late
  }

  /** Notes when the first output frame went out (later calls change nothing). */
  frameOut(nowMs: number): void {
    this.firstFrameAtMs ??= nowMs
  }

  /** Each window's agent text so far, the open window's included. */
  agentTexts(): ReadonlyArray<{ readonly index: number; readonly agentText: string }> {
    const closed = this.windows.map((w) => ({ index: w.index, agentText: w.agentText }))
    return this.open ? [...closed, { index: this.open.index, agentText: this.open.text }] : closed
  }

  currentText(): string {
    return this.open?.text ?? ""
  }

  closeWindow(): WindowReport | undefined {
    const w = this.open
    if (!w) return undefined
    this.open = undefined
    const report = windowReport(w)
    this.windows.push(report)
    return report
  }

  addSwitch(s: SwitchReport): void {
    this.switches.push(s)
  }

  snapshot(status: RunStatus, nowMs: number, error?: string): RunReport {
    const windows = this.open ? [...this.windows, windowReport(this.open)] : [...this.windows]
    const wallMs = Math.max(0, nowMs - this.settings.startedAtMs)
    const audioMs = this.outputFrames * FRAME_MS
    const report: RunReport = {
      version: 1,
      status,
      ...(error !== undefined ? { error } : {}),
      startedAt: new Date(this.settings.startedAtMs).toISOString(),
      ...(status !== "running" ? { endedAt: new Date(nowMs).toISOString() } : {}),
      pace: this.settings.pace,
      windowFrames: this.settings.windowFrames,
      thinkingClipFrames: this.settings.thinkingClipFrames,
      meta: this.settings.meta,
      inputFrames: this.inputFrames,
      outputFrames: this.outputFrames,
      windows,
      switches: [...this.switches],
      transcript: windows
        .map((w) => w.agentText.trim())
        .filter((t) => t.length > 0)
        .join("\n"),
      timings: {
        wallMs: round(wallMs),
        realTimeFactor: audioMs > 0 ? round(wallMs / audioMs) : 0,
        frame: summarize(this.total),
        encode: summarize(this.encode),
        step: summarize(this.step),
        decode: summarize(this.decode),
        lateFrames: windows.reduce((n, w) => n + w.lateFrames, 0),
        pauseMs: this.switches.map((s) => s.pauseMs),
        ...(this.firstFrameAtMs !== undefined
          ? {
              firstFrameMs: round(
                this.firstFrameAtMs - (this.settings.runStartedAtMs ?? this.settings.startedAtMs),
              ),
            }
          : {}),
      },
    }
    return this.settings.annotate?.(report) ?? report
  }
}

const windowReport = (w: OpenWindow): WindowReport => ({
  index: w.index,
  prompt: w.prompt,
  promptSource: w.promptSource,
  ...(w.promptReason !== undefined ? { promptReason: w.promptReason } : {}),
  promptTokens: w.promptTokens,
  promptMs: round(w.promptMs),
  outputStartFrame: w.outputStartFrame,
  inputFrames: w.inputFrames,
  silentOutputFrames: w.silentOutputFrames,
  agentText: w.text,
  unknownTextTokens: w.unknownTextTokens,
  frameTimings: summarize(w.totals),
  lateFrames: w.lateFrames,
})

const round = (x: number) => Math.round(x * 1000) / 1000
