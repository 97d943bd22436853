import { AUDIO_FRAME_SIZE } from "@personaplex/audio-io"
import type { ScriptPart, SpokenScript } from "./spokenScript.ts"

/** For the tests of switch rules: a booking call, short gaps (250 ms) inside turns, long ones (≥ 900 ms) between them. */
export const bookingConversation: ReadonlyArray<ScriptPart> = [
  { silenceMs: 200 },
  { say: "I would like to book a table for four people on Friday evening." },
  { silenceMs: 250 },
  { say: "Somewhere near the river, if that is possible." },
  { silenceMs: 900 },
  { say: "We will arrive at around eight o'clock." },
  { silenceMs: 1000 },
  { say: "One of us is vegetarian, so please keep that in mind." },
  { silenceMs: 250 },
  { say: "And we would love a table by the window." },
  { silenceMs: 1200 },
  { say: "Thank you very much." },
  { silenceMs: 600 },
]

/** Sentence after sentence with 150 ms breaths between: never a pause of 400 ms. */
export const unbrokenMonologue: ReadonlyArray<ScriptPart> = [
  "Let me tell you about my trip to the mountains last summer.",
  "We walked for six hours on the first day and camped by a lake.",
  "The next morning it rained, so we stayed in the tent and played cards.",
  "On the third day the sun came back and we climbed to the top.",
  "From there you could see three countries and the whole valley below.",
].flatMap((say) => [{ say }, { silenceMs: 150 }])

/** Where each window ended in the input, in samples (the last window ends with the input: no cut). */
export const windowCuts = (windows: ReadonlyArray<{ readonly inputFrames: number }>): Array<number> => {
  let at = 0
  return windows.slice(0, -1).map((w) => {
    at += w.inputFrames
    return at * AUDIO_FRAME_SIZE
  })
}

/** The part of the script that holds `sample`. */
export const spanAt = (script: SpokenScript, sample: number) =>
  script.spans.find((s) => s.start <= sample && sample < s.end)!
