/**
 * The services the loop drives, as agreed in the cross-package interfaces.
 *
 * Interim: until each owning package exports its service, this module declares the
 * service key with the SAME identifier string (Effect resolves services by key), so a
 * layer built by the real package satisfies the loop unchanged. Each block is replaced
 * by a re-export once the package lands.
 */
import { Context, Data, type Effect, type Stream } from "effect"

export const SAMPLE_RATE = 24000
export const FRAME_SIZE = 1920
export const FRAME_RATE = 12.5

// ---------------------------------------------------------------- codec
export class CodecError extends Data.TaggedError("CodecError")<{ readonly message: string }> {}
export interface MimiCodecShape {
  readonly numCodebooks: number
  encode(frame: Float32Array): Effect.Effect<Int32Array, CodecError>
  decode(codes: Int32Array): Effect.Effect<Float32Array, CodecError>
  readonly resetEncoder: Effect.Effect<void, CodecError>
  readonly resetDecoder: Effect.Effect<void, CodecError>
  readonly reset: Effect.Effect<void, CodecError>
}
export class MimiCodec extends Context.Service<MimiCodec, MimiCodecShape>()("@personaplex/codec/MimiCodec") {}

// ---------------------------------------------------------------- lm
export class LmError extends Data.TaggedError("LmError")<{ readonly message: string }> {}
export type VoicePrompt =
  | { readonly _tag: "Audio"; readonly pcm: Float32Array }
  | {
      readonly _tag: "Cached"
      readonly embeddings: Float32Array
      readonly frames: number
      readonly cache: Int32Array
    }
export interface SystemPrompt {
  readonly voice?: VoicePrompt
  readonly textTokens: Int32Array
  readonly silenceFrames?: number
}
export interface LmGenShape {
  step(userCodes: Int32Array): Effect.Effect<Int32Array | undefined, LmError>
  prompt(system: SystemPrompt): Effect.Effect<void, LmError | CodecError, MimiCodec>
  readonly reset: Effect.Effect<void, LmError>
}
export class LmGen extends Context.Service<LmGen, LmGenShape>()("@personaplex/lm/LmGen") {}
export interface TextTokenizerShape {
  encode(text: string): Int32Array
  idToPiece(id: number): string
  textPiece(id: number): string
}
export class TextTokenizer extends Context.Service<TextTokenizer, TextTokenizerShape>()(
  "@personaplex/lm/TextTokenizer",
) {}
export const wrapWithSystemTags = (text: string): string => {
  const trimmed = text.trim()
  return trimmed.startsWith("<system>") && trimmed.endsWith("<system>")
    ? trimmed
    : `<system> ${trimmed} <system>`
}

// ---------------------------------------------------------------- audio-io
export class AudioError extends Data.TaggedError("AudioError")<{ readonly message: string }> {}
export interface AudioSourceShape {
  readonly frames: Stream.Stream<Float32Array, AudioError>
}
export class AudioSource extends Context.Service<AudioSource, AudioSourceShape>()(
  "@personaplex/audio-io/AudioSource",
) {}
export interface AudioSinkShape {
  write(frame: Float32Array): Effect.Effect<void, AudioError>
  readonly framesWritten: Effect.Effect<number>
}
export class AudioSink extends Context.Service<AudioSink, AudioSinkShape>()(
  "@personaplex/audio-io/AudioSink",
) {}

// ---------------------------------------------------------------- compaction
export class CompactionError extends Data.TaggedError("CompactionError")<{ readonly message: string }> {}
export interface WindowTranscript {
  readonly index: number
  readonly agentText: string
  readonly userText?: string
}
export interface CompactionInput {
  readonly basePersona: string
  readonly history: ReadonlyArray<WindowTranscript>
  readonly previousPrompt: string
  readonly wordBudget?: number
}
export interface CompactionResult {
  readonly prompt: string
  readonly source: "model" | "fallback"
  readonly reason?: string
  readonly durationMs: number
}
export interface CompactorShape {
  compact(input: CompactionInput): Effect.Effect<CompactionResult, CompactionError>
}
export class Compactor extends Context.Service<Compactor, CompactorShape>()(
  "@personaplex/compaction/Compactor",
) {}
