import { Effect } from "effect"
import { CodeCountError, CodeRangeError, FrameLengthError } from "./errors.ts"

/** One streaming frame is exactly `frameSize` samples. */
export const checkFrame = (frame: Float32Array, frameSize: number) =>
  frame.length === frameSize
    ? Effect.void
    : Effect.fail(new FrameLengthError({ expected: frameSize, actual: frame.length }))

/** One frame's codes: `count` of them, each in `[0, bins)`. */
export const checkCodes = (
  codes: Int32Array,
  count: number,
  bins: number,
): Effect.Effect<void, CodeCountError | CodeRangeError> => {
  if (codes.length !== count)
    return Effect.fail(new CodeCountError({ expected: count, actual: codes.length }))
  for (let k = 0; k < count; k++) {
    const code = codes[k]!
    if (!(code >= 0 && code < bins)) return Effect.fail(new CodeRangeError({ codebook: k, code, bins }))
  }
  return Effect.void
}
