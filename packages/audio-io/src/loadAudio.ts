import { Effect } from "effect"
import { EmptyAudioError } from "./errors.ts"
import { toFrames } from "./frames.ts"
import { type ResampleQuality, resampleTo24k } from "./resample.ts"
import { readWav } from "./wav.ts"

export interface LoadOptions {
  readonly quality?: ResampleQuality
}

/** Reads a WAV file of any rate and channel count as 24 kHz mono samples. */
export const loadMono24k = Effect.fn("loadMono24k")(function* (path: string, options?: LoadOptions) {
  const audio = yield* readWav(path)
  const samples = yield* resampleTo24k(audio, options)
  if (samples.length === 0) return yield* new EmptyAudioError({ path })
  return samples
})

/** Reads a WAV file as 24 kHz mono 1920-sample frames; the last frame is zero-padded. */
export const loadFrames = Effect.fn("loadFrames")(function* (path: string, options?: LoadOptions) {
  return toFrames(yield* loadMono24k(path, options)) as ReadonlyArray<Float32Array>
})

/**
 * The "thinking" clip played while the transcript is compacted: resampled to 24 kHz mono and cut
 * into 1920-sample frames, the last one zero-padded.
 */
export const loadThinkingClip = (path: string, options?: LoadOptions) => loadFrames(path, options)
