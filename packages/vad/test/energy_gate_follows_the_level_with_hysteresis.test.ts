import { assert, describe, it } from "@effect/vitest"
import { AUDIO_FRAME_SIZE } from "@personaplex/audio-io"
import { Effect } from "effect"
import { levelDb, VoiceActivity } from "../src/index.ts"

/** A 440 Hz frame whose RMS level is `db` dBFS. */
const toneAt = (db: number) => {
  const amplitude = Math.SQRT2 * 10 ** (db / 20)
  return Float32Array.from(
    { length: AUDIO_FRAME_SIZE },
    (_, i) => amplitude * Math.sin((2 * Math.PI * 440 * i) / 24000),
  )
}

const speechOf = (levels: ReadonlyArray<number>) =>
  VoiceActivity.use((vad) =>
    Effect.forEach(levels, (db) =>
      Effect.map(
        vad.push(db === -Infinity ? new Float32Array(AUDIO_FRAME_SIZE) : toneAt(db)),
        (a) => a.speech,
      ),
    ),
  )

describe("energy voice activity", () => {
  it("levelDb is the frame's RMS in dBFS", () => {
    assert.closeTo(levelDb(toneAt(-20)), -20, 0.01)
    assert.strictEqual(levelDb(new Float32Array(AUDIO_FRAME_SIZE)), -Infinity)
  })

  it.effect("speech starts at thresholdDb and lasts until the level falls below releaseDb", () =>
    Effect.gen(function* () {
      // threshold −40, release −46 (defaults): −43 keeps a started speech going, and does not start one.
      const speech = yield* speechOf([-Infinity, -43, -39, -43, -45, -47, -43, -20, -Infinity])
      assert.deepStrictEqual(speech, [false, false, true, true, true, false, false, true, false])
    }).pipe(Effect.provide(VoiceActivity.energy())),
  )

  it.effect("reset forgets an ongoing speech", () =>
    Effect.gen(function* () {
      const before = yield* speechOf([-30, -43])
      yield* VoiceActivity.use((vad) => vad.reset)
      const after = yield* speechOf([-43])
      assert.deepStrictEqual([...before, ...after], [true, true, false])
    }).pipe(Effect.provide(VoiceActivity.energy())),
  )

  it.effect("a release level at or above the threshold is refused, naming both", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(
          VoiceActivity.use((vad) => Effect.succeed(vad.detector)),
          VoiceActivity.energy({ thresholdDb: -40, releaseDb: -30 }),
        ),
      )
      assert.strictEqual(error._tag, "VoiceActivityError")
      assert.include(error.message, "-30")
      assert.include(error.message, "-40")
    }),
  )
})
