import { Data } from "effect"
import type { Pace } from "./options.ts"
import type { CompactionStage, PromptSource, RunReport } from "./report.ts"
import type { SwitchReason } from "./switchPolicy.ts"

/** What the loop tells its observers, in the order it happens. */
export type LoopEvent = Data.TaggedEnum<{
  RunStarted: { readonly windowFrames: number; readonly pace: Pace; readonly thinkingClipFrames: number }
  /** The model holds the window's prompt (voice, silence, text): it is ready for the first frame. */
  PromptInjected: {
    readonly window: number
    readonly prompt: string
    readonly promptTokens: number
    readonly promptMs: number
  }
  WindowStarted: {
    readonly window: number
    readonly prompt: string
    readonly promptSource: PromptSource
    readonly promptTokens: number
    readonly promptMs: number
    /** Output frames written before this window (its position in the output audio). */
    readonly outputFrame: number
  }
  FrameProcessed: {
    readonly window: number
    /** Index of the input frame over the whole run. */
    readonly inputFrame: number
    readonly encodeMs: number
    readonly stepMs: number
    readonly decodeMs: number
    readonly totalMs: number
    /** False while the LM returned no tokens (a silence frame was written). */
    readonly agentAudio: boolean
  }
  /** A frame whose processing took longer than its 80 ms of audio. */
  LateFrame: { readonly window: number; readonly inputFrame: number; readonly totalMs: number }
  TextPiece: { readonly window: number; readonly inputFrame: number; readonly text: string }
  WindowEnded: { readonly window: number; readonly inputFrames: number; readonly agentText: string }
  CompactionStarted: { readonly afterWindow: number; readonly stage: CompactionStage }
  CompactionEnded: {
    readonly afterWindow: number
    readonly stage: CompactionStage
    readonly prompt: string
    readonly source: "model" | "fallback"
    readonly reason?: string | undefined
    readonly durationMs: number
  }
  SwitchEnded: {
    readonly afterWindow: number
    readonly reason: SwitchReason
    readonly pauseMs: number
    readonly clipFrames: number
    readonly silenceFrames: number
    readonly droppedInputFrames: number
  }
  RunEnded: { readonly report: RunReport }
}>

export const LoopEvent = Data.taggedEnum<LoopEvent>()
