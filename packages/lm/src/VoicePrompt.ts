import { Checkpoint, float32ToBf16, writeSafetensors } from "@personaplex/runtime"
import { Effect } from "effect"
import { RING, STREAMS } from "./constants.ts"
import { VoicePromptFileError } from "./errors.ts"

/** A replayable voice prompt (upstream-spec §5.2): the input embeddings of the voice frames the model saw, and the token ring after them. */
export interface CachedVoicePrompt {
  readonly _tag: "Cached"
  /** `[frames, dim]` row-major. */
  readonly embeddings: Float32Array
  /** Number of stored embeddings N (= voice frames − 1: the first frame after a reset never reaches the model). */
  readonly frames: number
  /** Token ring `[17, 4]` after the voice phase. */
  readonly cache: Int32Array
}

export interface AudioVoicePrompt {
  readonly _tag: "Audio"
  /** 24 kHz mono; normalised to −24 LUFS before encoding. */
  readonly pcm: Float32Array
}

export type VoicePrompt = AudioVoicePrompt | CachedVoicePrompt

export const VoicePrompt = {
  audio: (pcm: Float32Array): AudioVoicePrompt => ({ _tag: "Audio", pcm }),
  cached: (embeddings: Float32Array, frames: number, cache: Int32Array): CachedVoicePrompt => ({
    _tag: "Cached",
    embeddings,
    frames,
    cache,
  }),
}

/** `__metadata__.format` of our voice-prompt files. */
export const VOICE_PROMPT_FORMAT = "personaplex-voice-prompt"
const VERSION = "1"

/** True when every value is a bfloat16 (low 16 bits zero): then BF16 storage is exact. */
const isBf16Exact = (values: Float32Array) => {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0xffff) !== 0) return false
  return true
}

/**
 * Save as safetensors: `embeddings` `[N, dim]` (BF16 when that is exact, as for upstream's voices,
 * else F32), `cache` I32 `[17, 4]`, metadata `{ format, version, frames, dim }`. Our format, not
 * upstream's `.pt` pickle.
 */
export const saveVoicePrompt = (
  path: string,
  prompt: CachedVoicePrompt,
): Effect.Effect<void, VoicePromptFileError> =>
  Effect.try({
    try: () => {
      const dim = prompt.frames === 0 ? 0 : prompt.embeddings.length / prompt.frames
      if (!Number.isInteger(dim))
        throw new Error(
          `${prompt.embeddings.length} embedding values do not split into ${prompt.frames} frames`,
        )
      if (prompt.cache.length !== STREAMS * RING)
        throw new Error(`token cache has ${prompt.cache.length} values, expected ${STREAMS * RING}`)
      writeSafetensors(
        path,
        [
          isBf16Exact(prompt.embeddings)
            ? {
                name: "embeddings",
                dtype: "BF16",
                shape: [prompt.frames, dim],
                data: float32ToBf16(prompt.embeddings),
              }
            : { name: "embeddings", dtype: "F32", shape: [prompt.frames, dim], data: prompt.embeddings },
          { name: "cache", dtype: "I32", shape: [STREAMS, RING], data: prompt.cache },
        ],
        { format: VOICE_PROMPT_FORMAT, version: VERSION, frames: String(prompt.frames), dim: String(dim) },
      )
    },
    catch: (error) => new VoicePromptFileError({ path, reason: (error as Error).message ?? String(error) }),
  })

/** Load a file written by `saveVoicePrompt`; `dim`, when given, must match the LM's width. */
export const loadVoicePrompt = (
  path: string,
  dim?: number,
): Effect.Effect<CachedVoicePrompt, VoicePromptFileError> =>
  Effect.try({
    try: () => {
      const file = Checkpoint.openSync(path)
      try {
        if (file.metadata.format !== VOICE_PROMPT_FORMAT)
          throw new Error(`not a voice-prompt file (metadata format "${file.metadata.format ?? ""}")`)
        const embeddings = file.float32Sync("embeddings")
        const cache = file.int32Sync("cache")
        if (embeddings.shape.length !== 2)
          throw new Error(`embeddings have shape [${embeddings.shape}], expected [N, dim]`)
        if (dim !== undefined && embeddings.shape[1] !== dim)
          throw new Error(`embeddings are ${embeddings.shape[1]} wide, the LM needs ${dim}`)
        if (cache.shape.length !== 2 || cache.shape[0] !== STREAMS || cache.shape[1] !== RING)
          throw new Error(`cache has shape [${cache.shape}], expected [${STREAMS}, ${RING}]`)
        return VoicePrompt.cached(
          Float32Array.from(embeddings.data),
          embeddings.shape[0]!,
          Int32Array.from(cache.data),
        )
      } finally {
        file.close()
      }
    },
    catch: (error) => new VoicePromptFileError({ path, reason: (error as Error).message ?? String(error) }),
  })
