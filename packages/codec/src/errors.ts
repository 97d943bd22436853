import type {
  GraphBuildError,
  MissingTensorError,
  OrtSessionError,
  SafetensorsFormatError,
  TensorMismatchError,
} from "@personaplex/runtime"
import { Data } from "effect"

/** A streaming encode was given a frame that is not exactly `frameSize` samples. */
export class FrameLengthError extends Data.TaggedError("FrameLengthError")<{
  readonly expected: number
  readonly actual: number
}> {
  override get message() {
    return `Mimi encode takes frames of ${this.expected} samples (24 kHz mono, 80 ms), got ${this.actual}`
  }
}

/** A decode was given the wrong number of codes for one frame. */
export class CodeCountError extends Data.TaggedError("CodeCountError")<{
  readonly expected: number
  readonly actual: number
}> {
  override get message() {
    return `Mimi decode takes ${this.expected} codes per frame, got ${this.actual}`
  }
}

/** A code outside `[0, bins)`. */
export class CodeRangeError extends Data.TaggedError("CodeRangeError")<{
  readonly codebook: number
  readonly code: number
  readonly bins: number
}> {
  override get message() {
    return `Mimi code ${this.code} of codebook ${this.codebook} is outside [0, ${this.bins})`
  }
}

/** A Mimi configuration that is malformed or asks for a variant this port does not implement. */
export class MimiConfigError extends Data.TaggedError("MimiConfigError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `Mimi config field "${this.field}": ${this.reason}`
  }
}

/** A batched codec's row index outside `[0, rows)`. */
export class BatchRowError extends Data.TaggedError("BatchRowError")<{
  readonly row: number
  readonly rows: number
}> {
  override get message() {
    return `Mimi batch row ${this.row} is outside [0, ${this.rows})`
  }
}

/** A batched codec step was given a list of frames that is not one entry per row. */
export class BatchWidthError extends Data.TaggedError("BatchWidthError")<{
  readonly expected: number
  readonly actual: number
}> {
  override get message() {
    return `Mimi batch steps take one entry per row (${this.expected}; undefined where a row has no frame), got ${this.actual}`
  }
}

export type CodecError =
  | FrameLengthError
  | CodeCountError
  | CodeRangeError
  | MimiConfigError
  | OrtSessionError
  | MissingTensorError
  | TensorMismatchError
  | SafetensorsFormatError
  | GraphBuildError
