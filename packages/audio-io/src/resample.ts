import libsamplerate from "@alexanderolsen/libsamplerate-js"
import { Effect, type Scope } from "effect"
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

/** A libsamplerate converter that keeps its filter state between chunks (one audio stream). */
export interface StreamingResampler {
  /**
   * The next chunk, resampled. The output lags the input by the converter's delay (half its sinc
   * filter: a few ms), so a chunk's output may be shorter than `chunk × toRate / fromRate` at first.
   */
  push(samples: Float32Array): Effect.Effect<Float32Array, ResampleError>
  /** Start a new stream: a fresh converter, nothing held back from the previous one. */
  readonly reset: Effect.Effect<void, ResampleError>
}

/**
 * Opens a streaming converter from `fromRate` to `toRate` (sinc "medium" by default), released with
 * the scope. For live audio cut into frames: resampling each frame on its own would restart the
 * filter at every frame edge.
 */
export const openResampler = (
  fromRate: number,
  toRate: number,
  options?: { readonly quality?: ResampleQuality },
): Effect.Effect<StreamingResampler, ResampleError, Scope.Scope> => {
  const fail = (reason: string) => new ResampleError({ fromRate, toRate, reason })
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate)))
    return Effect.fail(fail("sample rates must be positive and finite"))
  if (toRate / fromRate > 256 || fromRate / toRate > 256)
    return Effect.fail(fail("ratio outside libsamplerate's 1/256..256"))
  // 100 ms chunks stay well inside the converter's fixed transfer buffers.
  const chunk = Math.max(1, Math.floor(fromRate / 10))
  const create = Effect.tryPromise({
    try: () =>
      libsamplerate.create(1, fromRate, toRate, {
        converterType: converterType[options?.quality ?? "medium"],
      }),
    catch: (cause) => fail(`cannot load libsamplerate: ${String(cause)}`),
  })
  return Effect.gen(function* () {
    let src = yield* create
    yield* Effect.addFinalizer(() => Effect.sync(() => src.destroy()))
    const push = (samples: Float32Array) =>
      Effect.try({
        try: () => {
          if (samples.length <= chunk) return src.full(samples).slice()
          const parts: Array<Float32Array> = []
          for (let i = 0; i < samples.length; i += chunk)
            parts.push(src.full(samples.subarray(i, i + chunk)).slice())
          const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
          let at = 0
          for (const p of parts) {
            out.set(p, at)
            at += p.length
          }
          return out
        },
        catch: (cause) => fail(cause instanceof Error ? cause.message : String(cause)),
      })
    const reset = Effect.map(create, (fresh) => {
      src.destroy()
      src = fresh
    })
    return { push, reset }
  })
}

/**
 * Resamples mono audio with libsamplerate (sinc, "medium" by default). The output is time-aligned
 * with the input and exactly `resampledLength(...)` samples long: the streaming converter holds
 * back half a filter length, so zeros are fed after the input until that tail has come out, and
 * the result is cut to length.
 */
export const resample = (
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  options?: { readonly quality?: ResampleQuality },
): Effect.Effect<Float32Array, ResampleError> => {
  if (fromRate === toRate && fromRate > 0 && Number.isFinite(fromRate)) return Effect.succeed(samples)
  const expected = resampledLength(samples.length, fromRate, toRate)
  return Effect.scoped(
    Effect.gen(function* () {
      const converter = yield* openResampler(fromRate, toRate, options)
      const out = new Float32Array(expected)
      let written = 0
      const take = (chunkOut: Float32Array) => {
        const n = Math.min(chunkOut.length, expected - written)
        out.set(chunkOut.subarray(0, n), written)
        written += n
      }
      take(yield* converter.push(samples))
      const zeros = new Float32Array(Math.max(1, Math.floor(fromRate / 10)))
      for (let flushes = 0; written < expected; flushes++) {
        if (flushes > 100)
          return yield* new ResampleError({
            fromRate,
            toRate,
            reason: `converter stopped after ${written} of ${expected} samples`,
          })
        take(yield* converter.push(zeros))
      }
      return out
    }),
  )
}

/** Downmixes to mono and resamples to 24 kHz. */
export const resampleTo24k = (
  audio: WavAudio,
  options?: { readonly quality?: ResampleQuality },
): Effect.Effect<Float32Array, ResampleError> =>
  resample(downmix(audio.channels), audio.sampleRate, AUDIO_SAMPLE_RATE, options)
