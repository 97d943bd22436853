import { Context, type Effect, type Scope, type Stream } from "effect"
import type { PromptSource } from "../shared/events.ts"
import type { EngineError } from "./errors.ts"
import type { BatchStatus } from "./frame-scheduler.ts"
import type { Voice } from "./voices.ts"

/** What a conversation is started with: the two query parameters of the upstream protocol. */
export interface EngineStartOptions {
  readonly sessionId: string
  /** `undefined`: no voice prompt. */
  readonly voice: Voice | undefined
  /** The user's text prompt, not yet wrapped in `<system>` tags. */
  readonly textPrompt: string
}

/** What the engine reports besides audio and text. */
export type EngineEvent =
  | {
      readonly _tag: "Prompt"
      readonly prompt: string
      readonly source: PromptSource
      readonly windowIndex: number
    }
  | { readonly _tag: "WindowStart"; readonly index: number }
  | { readonly _tag: "WindowEnd"; readonly index: number; readonly agentText: string }
  | {
      readonly _tag: "Compaction"
      readonly index: number
      readonly durationMs: number
      readonly pauseMs: number
      readonly source: PromptSource
      readonly prompt: string
      readonly reason?: string
    }
  /** One user frame went through the model; `computeMs` is its wall time. */
  | { readonly _tag: "FrameTiming"; readonly computeMs: number }

/** One running conversation: frames in, frames/text/events out. It stops when its scope closes. */
export interface EngineSession {
  /** Feeds one 1920-sample 24 kHz frame of user audio; never waits (frames are dropped when the engine lags). */
  readonly pushFrame: (pcm: Float32Array) => Effect.Effect<void>
  /** Agent audio, 1920-sample 24 kHz frames. */
  readonly frames: Stream.Stream<Float32Array, EngineError>
  /** Agent text pieces ("▁" already turned into spaces). */
  readonly text: Stream.Stream<string, EngineError>
  readonly events: Stream.Stream<EngineEvent, EngineError>
  /** Input frames dropped so far because the engine was behind. */
  readonly droppedFrames: Effect.Effect<number>
  /** On the server's frame clock: ticks that found no frame of the client's and gave the model silence. */
  readonly lateInputFrames?: Effect.Effect<number>
  /** Where this session's models compute, as opened (e.g. "LM on webgpu (fused), Mimi on webgpu (captured)"). */
  readonly runsOn?: string
}

export interface ConversationEngineShape {
  /** Shown to clients ("echo", "personaplex-loop", ...). */
  readonly name: string
  /** Where it computes ("cpu", "webgpu"; "none" for a model-free engine), for /api/health. */
  readonly device?: string
  /** Prompts the model and starts a conversation; it lives until the caller's scope closes. */
  readonly start: (options: EngineStartOptions) => Effect.Effect<EngineSession, EngineError, Scope.Scope>
  /** Conversations started and not yet stopped (for leak checks). */
  readonly liveSessions: Effect.Effect<number>
  /** With the conversations batched on one LM step: its figures (rows, tick time, headroom). */
  readonly batch?: Effect.Effect<BatchStatus>
}

/** Whatever turns user audio into agent audio: the real control loop, or a test engine. */
export class ConversationEngine extends Context.Service<ConversationEngine, ConversationEngineShape>()(
  "@personaplex/web/ConversationEngine",
) {}
