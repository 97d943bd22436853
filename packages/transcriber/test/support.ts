import { makeRng } from "@personaplex/runtime"
import { FRAME_SAMPLES } from "../src/index.ts"

/** 80 ms frames: quiet (−80 dBFS) for `false`, seeded noise at about −20 dBFS for `true`. */
export const framesOf = (plan: ReadonlyArray<readonly [speech: boolean, ms: number]>, seed = 3) => {
  const rng = makeRng(seed)
  const frames: Array<Float32Array> = []
  for (const [speech, ms] of plan)
    for (let i = 0; i < ms / 80; i++)
      frames.push(Float32Array.from({ length: FRAME_SAMPLES }, () => rng() * (speech ? 0.17 : 0.0001)))
  return frames
}

/** 0.8 s quiet, 1.2 s speech, 0.8 s quiet, 1.04 s speech, 0.56 s quiet. */
export const twoUtterances = () =>
  framesOf([
    [false, 800],
    [true, 1200],
    [false, 800],
    [true, 1040],
    [false, 560],
  ])
