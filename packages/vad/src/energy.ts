import { Effect } from "effect"
import { VoiceActivityError } from "./errors.ts"
import { checkFrame } from "./frame.ts"
import { makeSpeechGate } from "./SpeechGate.ts"
import type { VoiceActivityShape } from "./VoiceActivity.ts"

export interface EnergyOptions {
  /** Speech starts at this frame level, RMS in dBFS (default −40). */
  readonly thresholdDb?: number
  /** Speech ends below this level (default `thresholdDb − 6`). */
  readonly releaseDb?: number
}

const DETECTOR = "energy"

/** RMS level of a frame in dBFS (−Infinity for digital silence). */
export const levelDb = (frame: Float32Array): number => {
  let sum = 0
  for (let i = 0; i < frame.length; i++) sum += frame[i]! * frame[i]!
  return 10 * Math.log10(sum / frame.length)
}

/**
 * The level mapped onto 0..1 so that the shared gate's thresholds fall on the configured levels:
 * 0.5 at `thresholdDb`, 0.25 at `releaseDb`, linear in dB in between and beyond (clamped).
 */
const probabilityOf = (db: number, thresholdDb: number, releaseDb: number) =>
  Math.min(1, Math.max(0, 0.5 + (0.25 * (db - thresholdDb)) / (thresholdDb - releaseDb)))

export const makeEnergyDetector = (
  options: EnergyOptions = {},
): Effect.Effect<VoiceActivityShape, VoiceActivityError> => {
  const thresholdDb = options.thresholdDb ?? -40
  const releaseDb = options.releaseDb ?? thresholdDb - 6
  if (!Number.isFinite(thresholdDb) || !Number.isFinite(releaseDb) || releaseDb >= thresholdDb)
    return Effect.fail(
      new VoiceActivityError({
        detector: DETECTOR,
        operation: "open",
        reason: `releaseDb (${releaseDb}) must be a finite level below thresholdDb (${thresholdDb})`,
      }),
    )
  const gate = makeSpeechGate({ threshold: 0.5, negativeThreshold: 0.25 })
  return Effect.succeed({
    detector: DETECTOR,
    push: (frame) =>
      Effect.map(checkFrame(DETECTOR, frame), () => {
        const probability = probabilityOf(levelDb(frame), thresholdDb, releaseDb)
        return { probability, speech: gate.update(probability) }
      }),
    reset: Effect.sync(() => gate.reset()),
  })
}
