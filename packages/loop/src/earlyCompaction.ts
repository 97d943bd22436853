import { DEFAULT_REDO_MIN_WORDS, type EarlyCompactionOptions, FRAME_MS } from "./options.ts"
import { countWords, type WindowTranscript } from "./services.ts"

/** How many recent compactions the expected compaction time is learned from. */
const LEARNED_FROM = 3

/**
 * The compaction time to plan for: the mean of the last three full compactions (redos, on a few
 * words, say little about the next full one), or the configured guess before any has run.
 */
export const expectedCompactionMs = (options: EarlyCompactionOptions, previousMs: ReadonlyArray<number>) => {
  const recent = previousMs.slice(-LEARNED_FROM)
  return recent.length === 0 ? options.expectedMs : recent.reduce((a, b) => a + b, 0) / recent.length
}

/** The frame of the window from which the early compaction runs: `expectedMs` before `windowFrames`. */
export const earlyStartFrame = (windowFrames: number, expectedMs: number) =>
  Math.max(0, windowFrames - Math.ceil(expectedMs / FRAME_MS))

/** Words said after the early compaction's transcript, both sides. */
export const newWords = (tail: WindowTranscript) => countWords(`${tail.userText ?? ""} ${tail.agentText}`)

/**
 * Whether what was said after the early compaction's transcript changes the prompt materially:
 * at least `redoMinWords` words (default 4) by either side. Fewer (a filler, a word cut by the
 * switch, nothing at all: the usual case when the cut waits for a pause) leave the early prompt.
 */
export const changesMaterially = (options: EarlyCompactionOptions, tail: WindowTranscript) =>
  newWords(tail) >= (options.redoMinWords ?? DEFAULT_REDO_MIN_WORDS)
