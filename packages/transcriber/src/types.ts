/** What the user said over one stretch of their input, timed from the first frame heard (0 ms). */
export interface TranscriptPiece {
  readonly text: string
  readonly startMs: number
  readonly endMs: number
}

/** The user's input: 24 kHz mono in 80 ms frames, as the loop reads it. */
export const INPUT_SAMPLE_RATE = 24_000
export const FRAME_SAMPLES = 1920
export const FRAME_MS = 80
