import libsamplerate from "@alexanderolsen/libsamplerate-js"
import { Effect } from "effect"
import { AUDIO_SAMPLE_RATE } from "./constants.ts"
import { ResampleError } from "./errors.ts"
import type { WavAudio } from "./wav.ts"

/** libsamplerate converters, best to fastest. */
export type ResampleQuality = "best" | "medium" | "fastest"

const converterType = { best: 0, medium: 1, fastest: 2 } as const

/** Averages all channels into one. */
export const downmix = (channels: ReadonlyArray<Float32Array>): Float32Array => {
  if (channels.length === 1) return channels[0]!
  const length = channels[0]?.length ?? 0
  const out = new Float32Array(length)
  for (const channel of channels) for (let i = 0; i < length; i++) out[i]! += channel[i]!
  const scale = 1 / channels.length
  for (let i = 0; i < length; i++) out[i]! *= scale
  return out
}

/** The length a signal of `length` samples has at `toRate`: round(length * toRate / fromRate). */
export const resampledLength = (length: number, fromRate: number, toRate: number) =>
  Math.round((length * toRate) / fromRate)

/**
 * Resamples mono audio with libsamplerate (sinc, "medium" by default). The output is time-aligned
 * with the input and exactly `resampledLength(...)` samples long: the converter runs in streaming
 * mode, where it holds back half a filter length, so zeros are fed after the input until that
 * tail has come out, and the result is cut to length.
 */
export const resample = (
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  options?: { readonly quality?: ResampleQuality },
): Effect.Effect<Float32Array, ResampleError> => {
  const fail = (reason: string) => new ResampleError({ fromRate, toRate, reason })
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate)))
    return Effect.fail(fail("sample rates must be positive and finite"))
  if (fromRate === toRate) return Effect.succeed(samples)
  if (toRate / fromRate > 256 || fromRate / toRate > 256)
    return Effect.fail(fail("ratio outside libsamplerate's 1/256..256"))
  const expected = resampledLength(samples.length, fromRate, toRate)
  return Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () =>
        libsamplerate.create(1, fromRate, toRate, {
          converterType: converterType[options?.quality ?? "medium"],
        }),
      catch: (cause) => fail(`cannot load libsamplerate: ${String(cause)}`),
    }),
    (src) =>
      Effect.try({
        try: () => {
          const out = new Float32Array(expected)
          let written = 0
          const take = (chunkOut: Float32Array) => {
            const n = Math.min(chunkOut.length, expected - written)
            out.set(chunkOut.subarray(0, n), written)
            written += n
          }
          // 100 ms chunks stay well inside the converter's fixed transfer buffers.
          const chunk = Math.max(1, Math.floor(fromRate / 10))
          for (let i = 0; i < samples.length; i += chunk) take(src.full(samples.subarray(i, i + chunk)))
          const zeros = new Float32Array(chunk)
          for (let flushes = 0; written < expected; flushes++) {
            if (flushes > 100) throw new Error(`converter stopped after ${written} of ${expected} samples`)
            take(src.full(zeros))
          }
          return out
        },
        catch: (cause) => fail(cause instanceof Error ? cause.message : String(cause)),
      }),
    (src) => Effect.sync(() => src.destroy()),
  )
}

/** Downmixes to mono and resamples to 24 kHz. */
export const resampleTo24k = (
  audio: WavAudio,
  options?: { readonly quality?: ResampleQuality },
): Effect.Effect<Float32Array, ResampleError> =>
  resample(downmix(audio.channels), audio.sampleRate, AUDIO_SAMPLE_RATE, options)
