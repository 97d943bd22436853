import { describe, expect, it } from "vitest"
import { Segmenter } from "../src/index.ts"
import { framesOf, twoUtterances } from "./support.ts"

const run = (segmenter: Segmenter, frames: ReadonlyArray<Float32Array>) =>
  frames.flatMap((f) => {
    const u = segmenter.push(f)
    return u ? [u] : []
  })

describe("Segmenter", () => {
  it("cuts one utterance per stretch of speech, timed on the input's timeline with its lead-in", () => {
    const utterances = run(new Segmenter(), twoUtterances())
    expect(utterances.map((u) => [u.startMs, u.endMs])).toEqual([
      // Speech at 800-2000 ms, two lead-in frames before it, one quiet frame kept after it.
      [640, 2080],
      [2640, 3920],
    ])
    expect(utterances[0]!.samples.length).toBe(((2080 - 640) / 80) * 1920)
  })

  it("sends nothing for silence or a click shorter than minSpeechMs", () => {
    const frames = framesOf([
      [false, 2000],
      [true, 80],
      [false, 1000],
    ])
    const segmenter = new Segmenter()
    expect(run(segmenter, frames)).toEqual([])
    expect(segmenter.flush()).toBeUndefined()
  })

  it("cuts a user who never pauses at maxUtteranceMs", () => {
    const utterances = run(new Segmenter({ maxUtteranceMs: 2000 }), framesOf([[true, 5040]]))
    expect(utterances.map((u) => [u.startMs, u.endMs])).toEqual([
      [0, 2000],
      [2000, 4000],
    ])
  })

  it("flush ends the utterance in progress; reset starts the timeline again at 0", () => {
    const segmenter = new Segmenter()
    run(segmenter, framesOf([[true, 800]]))
    expect(segmenter.flush()).toMatchObject({ startMs: 0, endMs: 800 })
    run(segmenter, framesOf([[true, 400]]))
    segmenter.reset()
    expect(segmenter.flush()).toBeUndefined()
    expect(segmenter.framesHeard).toBe(0)
  })
})
