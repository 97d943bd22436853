import { type CodecError, MimiCodec } from "@personaplex/codec"
import { Effect } from "effect"
import { FRAME_SIZE, SAMPLE_RATE, SILENCE_TOKENS, SINE_TOKENS, TEXT_PAD } from "./constants.ts"
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

/**
 * Phase 1a (§5.3): encode each voice chunk with the streaming codec (reset before and after, also
 * when interrupted); each chunk's step provides agent = its codes, user = sine, text = PAD.
 */
export const voiceSteps = (pcm: Float32Array) =>
  Effect.gen(function* () {
    const codec = yield* MimiCodec
    yield* codec.reset
    const steps: ProvidedTokens[] = []
    for (const frame of voiceFrames(pcm))
      steps.push({ user: SINE_TOKENS, agent: yield* codec.encode(frame), text: TEXT_PAD })
    yield* codec.reset
    return steps
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.gen(function* () {
        const codec = yield* MimiCodec
        yield* Effect.ignore(codec.reset)
      }),
    ),
  ) as Effect.Effect<ProvidedTokens[], CodecError, MimiCodec>

/** Phases 2-4 (§5.3): silence, one step per text token, silence; agent = SILENCE, user = SINE. */
export const silenceAndTextSteps = (textTokens: Int32Array, silenceFrames: number): ProvidedTokens[] => {
  const silence = Array.from({ length: silenceFrames }, () => ({
    user: SINE_TOKENS,
    agent: SILENCE_TOKENS,
    text: TEXT_PAD,
  }))
  return [
    ...silence,
    ...Array.from(textTokens, (id) => ({ user: SINE_TOKENS, agent: SILENCE_TOKENS, text: id })),
    ...silence,
  ]
}
