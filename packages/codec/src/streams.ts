import { Stream } from "effect"
import type { CodecError } from "./errors.ts"
import { MimiCodec } from "./MimiCodec.ts"

/** Streaming encode: one code frame (`Int32Array(numCodebooks)`) per input frame, in order. */
export const encodeFrames = <E, R>(
  frames: Stream.Stream<Float32Array, E, R>,
): Stream.Stream<Int32Array, E | CodecError, R | MimiCodec> =>
  Stream.unwrap(MimiCodec.useSync((codec) => Stream.mapEffect(frames, (frame) => codec.encode(frame))))

/** Streaming decode: one `frameSize`-sample frame per code frame, in order. */
export const decodeFrames = <E, R>(
  codes: Stream.Stream<Int32Array, E, R>,
): Stream.Stream<Float32Array, E | CodecError, R | MimiCodec> =>
  Stream.unwrap(MimiCodec.useSync((codec) => Stream.mapEffect(codes, (frame) => codec.decode(frame))))
