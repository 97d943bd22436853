import { Data } from "effect"

/** A file the recognizer needs is not in the model folder (or, offline, not in the cache). */
export class TranscriberModelMissingError extends Data.TaggedError("TranscriberModelMissingError")<{
  readonly folder: string
  readonly file: string
  readonly hint: string
}> {
  override get message() {
    return `transcriber model: ${this.file} is missing from ${this.folder}: ${this.hint}`
  }
}

/** The model folder is there but cannot be used (unreadable config, a family this layer does not run, a failed download). */
export class TranscriberModelError extends Data.TaggedError("TranscriberModelError")<{
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `transcriber model ${this.source}: ${this.reason}`
  }
}

/** A frame that is not 80 ms of 24 kHz mono audio. */
export class TranscriberInputError extends Data.TaggedError("TranscriberInputError")<{
  readonly samples: number
  readonly expected: number
}> {
  override get message() {
    return `transcriber input: a frame of ${this.samples} samples, expected ${this.expected} (80 ms at 24 kHz)`
  }
}

/** The recognizer failed on an utterance (or its worker thread died). */
export class TranscriptionError extends Data.TaggedError("TranscriptionError")<{
  readonly startMs: number
  readonly endMs: number
  readonly reason: string
}> {
  override get message() {
    return `transcription of ${this.startMs}-${this.endMs} ms failed: ${this.reason}`
  }
}

export type TranscriberError =
  | TranscriberModelMissingError
  | TranscriberModelError
  | TranscriberInputError
  | TranscriptionError
