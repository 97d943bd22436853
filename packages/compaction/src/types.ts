import type { Effect } from "effect"
import type { CompactionError } from "./errors.ts"

/** One speaker's stretch of a window, in the order it was said. */
export interface SpeakerTurn {
  readonly speaker: "user" | "agent"
  readonly text: string
}

/** What was said during one conversation window. */
export interface WindowTranscript {
  readonly index: number
  /** PersonaPlex's own text stream for the window. */
  readonly agentText: string
  /** Present only where a transcriber layer supplies it. */
  readonly userText?: string
  /**
   * Both speakers in the order they spoke (from a transcriber's timed pieces and the agent's text
   * by frame); when present, the transcript is rendered from it instead of the two texts.
   */
  readonly turns?: ReadonlyArray<SpeakerTurn>
}

export interface CompactionInput {
  /** The role description the conversation started with; kept verbatim at the head of every prompt. */
  readonly basePersona: string
  /** Windows since the conversation started (or the most recent ones: older ones live on in `previousPrompt`). */
  readonly history: ReadonlyArray<WindowTranscript>
  /** The system prompt in force during the last window (wrapped or not). */
  readonly previousPrompt: string
  /** Words allowed between the `<system>` tags; default {@link DEFAULT_WORD_BUDGET}. */
  readonly wordBudget?: number
  /**
   * Tokens the wrapped prompt may cost PersonaPlex (each is one 80 ms prefill step), counted with
   * `countTokens` (e.g. the LM's SentencePiece `encode(text).length`). Both or neither.
   */
  readonly tokenBudget?: number
  readonly countTokens?: (text: string) => number
}

export type CompactionSource = "model" | "fallback"

export interface CompactionResult {
  /** Wrapped as `<system> ... <system>` (upstream-spec §5.4), within the word budget. */
  readonly prompt: string
  /** "model": the configured compactor produced it; "fallback": the deterministic summary replaced it. */
  readonly source: CompactionSource
  /** Why the fallback was used (timeout, model error, unparseable output). */
  readonly reason?: string
  readonly durationMs: number
  /** Which layer produced the prompt: "model-free", "llama-cpp", "openai-compatible", or a custom name. */
  readonly backend?: string
  /** Words between the tags. */
  readonly words?: number
  /** Set when a model's answer was only partly usable (e.g. JSON cut short by maxTokens). */
  readonly note?: string
}

export interface CompactorShape {
  compact(input: CompactionInput): Effect.Effect<CompactionResult, CompactionError>
}

export const DEFAULT_WORD_BUDGET = 200
