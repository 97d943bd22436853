import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AUDIO_FRAME_SIZE, openResampler, resample, toFrames } from "../src/index.ts"
import { maxAbsDiff, sine } from "./support/signals.ts"

describe("openResampler: one converter across a stream's frames", () => {
  it.effect("frames pushed one by one come out as the whole buffer resampled at once", () =>
    Effect.gen(function* () {
      const input = sine(300, 24000, 13 * AUDIO_FRAME_SIZE, 0.5) // 13 frames: 16640 samples at 16 kHz
      const whole = yield* resample(input, 24000, 16000)
      const converter = yield* openResampler(24000, 16000)
      const parts: Array<Float32Array> = []
      for (const frame of toFrames(input)) parts.push(yield* converter.push(frame))
      const streamed = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) {
        streamed.set(p, at)
        at += p.length
      }
      // The converter holds back its filter's delay: less than one frame's worth comes out short.
      assert.isAbove(streamed.length, 16640 - AUDIO_FRAME_SIZE)
      assert.isBelow(streamed.length, 16640)
      assert.isBelow(maxAbsDiff(streamed, whole.subarray(0, streamed.length)), 1e-6)
    }).pipe(Effect.scoped),
  )

  it.effect("after reset, a stream comes out as if the converter were new", () =>
    Effect.gen(function* () {
      const a = sine(300, 24000, 4 * AUDIO_FRAME_SIZE, 0.5)
      const b = sine(700, 24000, 4 * AUDIO_FRAME_SIZE, 0.3)
      const fresh = yield* openResampler(24000, 16000)
      const expected = yield* fresh.push(b)
      const used = yield* openResampler(24000, 16000)
      yield* used.push(a)
      yield* used.reset
      const again = yield* used.push(b)
      assert.strictEqual(again.length, expected.length)
      assert.strictEqual(maxAbsDiff(again, expected), 0)
    }).pipe(Effect.scoped),
  )

  it.effect("bad rates fail with a ResampleError naming them", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(openResampler(24000, 0))
      assert.strictEqual(error._tag, "ResampleError")
      assert.include(error.message, "24000")
    }).pipe(Effect.scoped),
  )
})
