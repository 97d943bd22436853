import { AUDIO_FRAME_SIZE } from "./constants.ts"
import { FrameLengthError } from "./errors.ts"

/** Cuts mono samples into 1920-sample frames; the last frame is zero-padded. Empty input gives no frames. */
export const toFrames = (samples: Float32Array): Array<Float32Array> => {
  const frames: Array<Float32Array> = []
  for (let start = 0; start < samples.length; start += AUDIO_FRAME_SIZE) {
    const frame = new Float32Array(AUDIO_FRAME_SIZE)
    frame.set(samples.subarray(start, start + AUDIO_FRAME_SIZE))
    frames.push(frame)
  }
  return frames
}

/** Joins frames back into one signal. */
export const concatFrames = (frames: ReadonlyArray<Float32Array>): Float32Array => {
  const out = new Float32Array(frames.reduce((n, f) => n + f.length, 0))
  let offset = 0
  for (const frame of frames) {
    out.set(frame, offset)
    offset += frame.length
  }
  return out
}

/** A FrameLengthError for `frame` if it is not exactly 1920 samples long. */
export const checkFrameLength = (frame: Float32Array, where: string): FrameLengthError | undefined =>
  frame.length === AUDIO_FRAME_SIZE
    ? undefined
    : new FrameLengthError({ where, expected: AUDIO_FRAME_SIZE, actual: frame.length })

/**
 * Regroups arbitrary-size blocks (device callbacks deliver 2048, 1024, ...) into 1920-sample frames.
 * `push` returns the frames completed by the block; `flush` returns the zero-padded remainder, if any.
 */
export const makeFramer = () => {
  let pending = new Float32Array(AUDIO_FRAME_SIZE)
  let filled = 0
  return {
    push(block: Float32Array): Array<Float32Array> {
      const done: Array<Float32Array> = []
      let offset = 0
      while (offset < block.length) {
        const n = Math.min(AUDIO_FRAME_SIZE - filled, block.length - offset)
        pending.set(block.subarray(offset, offset + n), filled)
        filled += n
        offset += n
        if (filled === AUDIO_FRAME_SIZE) {
          done.push(pending)
          pending = new Float32Array(AUDIO_FRAME_SIZE)
          filled = 0
        }
      }
      return done
    },
    flush(): Float32Array | undefined {
      if (filled === 0) return undefined
      const last = pending
      pending = new Float32Array(AUDIO_FRAME_SIZE)
      filled = 0
      return last
    },
  }
}
