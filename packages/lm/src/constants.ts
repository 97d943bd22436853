/** Special ids and fixed code frames (upstream-spec §3.2, Appendix A). */
export const TEXT_PAD = 3
export const TEXT_EPAD = 0
export const ZERO_TOKEN = -1
export const SILENCE_TOKENS: ReadonlyArray<number> = [948, 243, 1178, 546, 1736, 1030, 1978, 2008]
export const SINE_TOKENS: ReadonlyArray<number> = [430, 1268, 381, 1611, 1095, 1495, 56, 472]
export const AUDIO_CODEBOOKS = 8
/** Streams per frame: text, 8 agent codebooks, 8 user codebooks. */
export const STREAMS = 17
/** Token ring columns (max delay 1 + 3). */
export const RING = 4
export const DEFAULT_SILENCE_FRAMES = 6
export const FRAME_SIZE = 1920
export const SAMPLE_RATE = 24000
/** Attention windows the CLI offers (frames of 80 ms). */
export const CONTEXT_CHOICES: ReadonlyArray<number> = [187, 375, 750, 1500, 3000]
