/**
 * The extra JSON event channel (opt-in with `events=json` in the WebSocket query string). Each event is sent
 * as one binary message: kind byte 0x04 ("metadata" in the upstream protocol) followed by UTF-8 JSON.
 * The upstream web client never asks for it, so it never sees these messages.
 */

/** Where the text of the system prompt came from. */
export type PromptSource = "initial" | "model" | "fallback"

export interface HelloEvent {
  readonly type: "hello"
  readonly sessionId: string
  readonly voice: string
  readonly textPrompt: string
  readonly engine: string
  readonly maxSessions: number
}

/**
 * Before the handshake: every conversation slot is taken and the client waits in line; `position` 1 is
 * next. Sent when the client joins the line and whenever its place changes.
 */
export interface QueueEvent {
  readonly type: "queue"
  readonly sessionId: string
  readonly position: number
  readonly maxSessions: number
  /** How long the client may wait in all before it is refused. */
  readonly waitTimeoutMs: number
}

/** The system prompt the model is conditioned on now (at the start and after every compaction). */
export interface PromptEvent {
  readonly type: "prompt"
  readonly prompt: string
  readonly source: PromptSource
  readonly windowIndex: number
}

/** A conversation window started (the model was just prompted) or ended (the thinking clip starts). */
export interface WindowEvent {
  readonly type: "window"
  readonly phase: "start" | "end"
  readonly index: number
  /** Milliseconds since the session's handshake. */
  readonly atMs: number
  /** Only at "end": the agent's text of the window. */
  readonly agentText?: string
}

/** A compaction finished and the model was re-prompted; `pauseMs` is the gap between two windows. */
export interface CompactionEvent {
  readonly type: "compaction"
  readonly index: number
  readonly atMs: number
  readonly durationMs: number
  readonly pauseMs: number
  readonly source: PromptSource
  readonly prompt: string
  readonly reason?: string
}

/** Periodic measurements (about once a second). */
export interface StatsEvent {
  readonly type: "stats"
  readonly atMs: number
  readonly framesIn: number
  readonly framesOut: number
  /** Wall time of the engine's last frame step, and mean / max over the last second. */
  readonly frameMs: { readonly last: number; readonly mean: number; readonly max: number }
  /** Real-time factor: compute time / audio time over the last second (< 1 keeps up). */
  readonly rtf: number
  /** Input frames that were dropped because the engine fell behind. */
  readonly droppedFrames: number
}

/** Something was wrong with a client message; the session goes on. */
export interface WarningEvent {
  readonly type: "warning"
  readonly message: string
}

export type ServerEvent =
  | HelloEvent
  | QueueEvent
  | PromptEvent
  | WindowEvent
  | CompactionEvent
  | StatsEvent
  | WarningEvent
