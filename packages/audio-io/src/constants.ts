import { Duration } from "effect"

/** Every frame in this package is mono audio at this rate. */
export const AUDIO_SAMPLE_RATE = 24_000

/** Samples per frame: 80 ms at 24 kHz, one Mimi code frame. */
export const AUDIO_FRAME_SIZE = 1920

/** Wall-clock length of one frame. */
export const FRAME_DURATION: Duration.Duration = Duration.millis(
  (AUDIO_FRAME_SIZE / AUDIO_SAMPLE_RATE) * 1000,
)
