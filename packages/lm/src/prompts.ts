import { type CodecError, MimiCodec } from "@personaplex/codec"
import { Effect } from "effect"
import { FRAME_SIZE, SAMPLE_RATE, SILENCE_TOKENS, SINE_TOKENS, TEXT_PAD } from "./constants.ts"
import type { LmInputError, LmRuntimeError } from "./errors.ts"
import type { StepResult } from "./generation.ts"
import { normalizeLoudness } from "./loudness.ts"
import type { ProvidedTokens } from "./TokenRing.ts"

/**
 * Upstream's `wrap_with_system_tags` (upstream-spec §5.4): trim; keep as is when it already starts
 * and ends with `<system>`, else `"<system> " + text + " <system>"`.
 */
export const wrapWithSystemTags = (text: string): string => {
  const trimmed = text.trim()
  return trimmed.startsWith("<system>") && trimmed.endsWith("<system>")
    ? trimmed
    : `<system> ${trimmed} <system>`
}

/** The voice audio as upstream feeds it: −24 LUFS, 1920-sample chunks, last one zero-padded (§5.1). */
export const voiceFrames = (pcm: Float32Array): Float32Array[] => {
  const normalized = normalizeLoudness(pcm, SAMPLE_RATE, -24)
  const frames: Float32Array[] = []
  for (let start = 0; start < normalized.length; start += FRAME_SIZE) {
    const frame = new Float32Array(FRAME_SIZE)
    frame.set(normalized.subarray(start, Math.min(normalized.length, start + FRAME_SIZE)))
    frames.push(frame)
  }
  return frames
}

type Step = (tokens: ProvidedTokens) => Effect.Effect<StepResult, LmInputError | LmRuntimeError>

/**
 * Phase 1a (§5.3): encode each voice chunk with the streaming codec (reset before and after,
 * also when interrupted) and step with agent = codes, user = sine, text = PAD. Returns the
 * input embeddings of the steps where the model ran (what a voice-prompt cache stores).
 */
export const voicePhaseFromAudio = (pcm: Float32Array, step: Step) =>
  Effect.gen(function* () {
    const codec = yield* MimiCodec
    yield* codec.reset
    const embeddings: Float32Array[] = []
    for (const frame of voiceFrames(pcm)) {
      const codes = yield* codec.encode(frame)
      const result = yield* step({ user: SINE_TOKENS, agent: codes, text: TEXT_PAD })
      if (result.ran && result.embedding) embeddings.push(result.embedding)
    }
    yield* codec.reset
    return embeddings
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.gen(function* () {
        const codec = yield* MimiCodec
        yield* Effect.ignore(codec.reset)
      }),
    ),
  ) as Effect.Effect<Float32Array[], CodecError | LmInputError | LmRuntimeError, MimiCodec>

/** Phases 2-4 (§5.3): silence, one step per text token, silence; agent = SILENCE, user = SINE. */
export const silenceAndTextPhases = (textTokens: Int32Array, silenceFrames: number, step: Step) =>
  Effect.gen(function* () {
    const silence = Effect.gen(function* () {
      for (let i = 0; i < silenceFrames; i++)
        yield* step({ user: SINE_TOKENS, agent: SILENCE_TOKENS, text: TEXT_PAD })
    })
    yield* silence
    for (const id of textTokens) yield* step({ user: SINE_TOKENS, agent: SILENCE_TOKENS, text: id })
    yield* silence
  })
