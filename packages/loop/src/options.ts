import type { VoicePrompt } from "./services.ts"

/**
 * How the loop relates to wall-clock time.
 *
 * - `"fast"`: as fast as possible (files in, files out). Input is not read during a window
 *   switch (nothing is dropped) and no silence is inserted while waiting, so the output has
 *   exactly `input frames + thinking-clip frames × switches` frames.
 * - `"realtime"`: a live conversation. During a switch the thinking clip is played at the
 *   frame rate; if the compaction and re-prompt outlast it, silence frames follow (one per
 *   80 ms) until the next window is ready; input frames that arrive meanwhile are read and
 *   dropped (the agent is "thinking" and does not hear them), counted in the report.
 */
export type Pace = "fast" | "realtime"

/**
 * When a window ends.
 *
 * - `"fixed"` (the default): after exactly `windowFrames` input frames.
 * - `"pause"`: after `windowFrames`, at the first frame by which the user has been silent (the
 *   `VoiceActivity` layer's verdict) and the agent's text stream has been padding, both for
 *   `pauseMs`; at `maxWindowFrames` the window ends anyway. Needs a `VoiceActivity` layer.
 */
export type SwitchPolicy =
  | { readonly mode: "fixed" }
  | {
      readonly mode: "pause"
      /** Silence of both sides that makes a pause, in ms (default 400). */
      readonly pauseMs?: number
      /** The longest window, in input frames (≥ `windowFrames`). */
      readonly maxWindowFrames: number
    }

/**
 * Compaction started before the cut, so that the next prompt is (nearly) ready when the window
 * ends: from `expectedMs` before the window's nominal end (`windowFrames`), on the transcript so
 * far. At the switch, if at least `redoMinWords` words were said after that transcript (by either
 * side), the compactor runs again on those words only, with the early prompt as its previous
 * prompt; otherwise the early prompt is used as it is.
 */
export interface EarlyCompactionOptions {
  /**
   * How long a compaction is expected to take before any has run, in ms; later windows use the
   * mean of the last three compactions.
   */
  readonly expectedMs: number
  /** New words after the early compaction's transcript that make it be redone (default 4). */
  readonly redoMinWords?: number
}

export interface LoopOptions {
  /** Input frames per window (12.5 frames per second; a 20 s window is 250 frames). */
  readonly windowFrames: number
  /** The persona: the first window's system prompt, and the base the compactor builds on. */
  readonly initialPrompt: string
  /** The agent's voice, injected at the start of every window. */
  readonly voice?: VoicePrompt
  /** Frames of the thinking clip played at each window switch (24 kHz, 1920 samples each). */
  readonly thinkingClip: ReadonlyArray<Float32Array>
  readonly pace?: Pace
  /**
   * At `pace: "realtime"`, how much of the clip is always played at a switch, in ms (whole frames:
   * 150 ms is 2); from there, at the first frame boundary where the next window is ready (its
   * prompt compacted and injected), one frame fading out to silence ends the clip. Default: the
   * whole clip, every time. Not used at `"fast"` (the output stays input + clip × switches).
   */
  readonly thinkingClipMinMs?: number
  /** Silence frames around the text prompt (upstream: 6). */
  readonly silenceFrames?: number
  /** Word budget handed to the compactor. */
  readonly wordBudget?: number
  /**
   * Longest wait for the compactor before the loop falls back to the previous prompt
   * (the compaction package's own `withDeadline` usually fires first). Default: none.
   */
  readonly compactionDeadlineMs?: number
  /** When a window ends (default `{ mode: "fixed" }`: after `windowFrames`). */
  readonly switchPolicy?: SwitchPolicy
  /** Start each switch's compaction before the cut (default: at the cut). */
  readonly earlyCompaction?: EarlyCompactionOptions
  /** Stop after this many windows (the run ends at a window's end, no switch after it). */
  readonly maxWindows?: number
  /** Read at most this many input frames. */
  readonly maxInputFrames?: number
  /** Where the JSON run report is written when the run ends, however it ends. */
  readonly reportPath?: string
  /**
   * When the run began, in epoch ms, if before the loop (a CLI that loaded the models first): the report's
   * `timings.firstFrameMs` counts from it. Default: when the loop starts.
   */
  readonly startedAtMs?: number
  /** Free-form details recorded in the report (config file, model paths, ...). */
  readonly reportMeta?: Readonly<Record<string, unknown>>
}

export const FRAME_MS = 80

export const DEFAULT_PAUSE_MS = 400
export const DEFAULT_REDO_MIN_WORDS = 4
