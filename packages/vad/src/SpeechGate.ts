/**
 * Turns per-frame speech probabilities into speech / no speech with hysteresis (Silero's own
 * rule): speech starts at `threshold` and lasts until the probability falls below
 * `negativeThreshold`, so a word's quieter middle does not split it in two.
 */
export interface SpeechGateOptions {
  /** Default 0.5. */
  readonly threshold?: number
  /** Default `threshold − 0.15`. */
  readonly negativeThreshold?: number
}

export interface SpeechGate {
  update(probability: number): boolean
  reset(): void
}

export const gateThresholds = (options: SpeechGateOptions = {}) => {
  const threshold = options.threshold ?? 0.5
  return { threshold, negativeThreshold: options.negativeThreshold ?? Math.max(0, threshold - 0.15) }
}

/** The reason a threshold pair is unusable, or `undefined`. */
export const gateProblem = (options: SpeechGateOptions): string | undefined => {
  const { threshold, negativeThreshold } = gateThresholds(options)
  if (!(threshold > 0 && threshold <= 1)) return `threshold: expected a number in (0, 1], got ${threshold}`
  if (!(negativeThreshold >= 0 && negativeThreshold <= threshold))
    return `negativeThreshold: expected a number between 0 and threshold (${threshold}), got ${negativeThreshold}`
  return undefined
}

export const makeSpeechGate = (options: SpeechGateOptions = {}): SpeechGate => {
  const { threshold, negativeThreshold } = gateThresholds(options)
  let speaking = false
  return {
    update: (probability) => {
      speaking = speaking ? probability >= negativeThreshold : probability >= threshold
      return speaking
    },
    reset: () => {
      speaking = false
    },
  }
}
