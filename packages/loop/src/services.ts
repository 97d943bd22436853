/**
 * The services the loop drives, as agreed in the cross-package interfaces, re-exported
 * from the packages that own them.
 *
 * Interim (only what has not landed yet): the service key is declared here with the SAME
 * identifier string (Effect resolves services by key), so a layer built by the real package
 * satisfies the loop unchanged; the block is replaced by a re-export once the package lands.
 */

import type { CodecError, MimiCodec } from "@personaplex/codec"
import { Context, Data, type Effect } from "effect"

export {
  type AudioError,
  AudioSink,
  type AudioSinkShape,
  AudioSource,
  type AudioSourceShape,
} from "@personaplex/audio-io"
export {
  type CodecError,
  FRAME_RATE,
  FRAME_SIZE,
  MimiCodec,
  type MimiCodecShape,
  SAMPLE_RATE,
} from "@personaplex/codec"
export {
  type CompactionError,
  type CompactionInput,
  type CompactionResult,
  Compactor,
  type CompactorShape,
  fallbackPrompt,
  type WindowTranscript,
  wrapWithSystemTags,
} from "@personaplex/compaction"
export { TextTokenizer, type TextTokenizerShape } from "@personaplex/lm"

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
