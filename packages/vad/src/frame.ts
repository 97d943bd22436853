import { AUDIO_FRAME_SIZE } from "@personaplex/audio-io"
import { Effect } from "effect"
import { VoiceActivityError } from "./errors.ts"

/** Fails unless `frame` is one 80 ms frame at 24 kHz. */
export const checkFrame = (detector: string, frame: Float32Array): Effect.Effect<void, VoiceActivityError> =>
  frame.length === AUDIO_FRAME_SIZE
    ? Effect.void
    : Effect.fail(
        new VoiceActivityError({
          detector,
          operation: "frame",
          reason: `expected a frame of ${AUDIO_FRAME_SIZE} samples (80 ms at 24 kHz), got ${frame.length}`,
        }),
      )
