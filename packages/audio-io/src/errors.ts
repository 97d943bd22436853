import { Data } from "effect"

/** The audio file does not exist (or is not a readable file). */
export class AudioFileNotFoundError extends Data.TaggedError("AudioFileNotFoundError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `audio file not found: ${this.path} (${this.reason})`
  }
}

/** The audio file exists but cannot be read (permissions, I/O error). */
export class AudioFileReadError extends Data.TaggedError("AudioFileReadError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot read audio file ${this.path}: ${this.reason}`
  }
}

/** The bytes are not a RIFF/WAVE file, or its chunks are malformed. */
export class NotAWavError extends Data.TaggedError("NotAWavError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path} is not a valid WAV file: ${this.reason}`
  }
}

/** A WAV file whose sample encoding this package cannot decode or encode. */
export class UnsupportedWavEncodingError extends Data.TaggedError("UnsupportedWavEncodingError")<{
  readonly path: string
  readonly formatTag: number
  readonly bitsPerSample: number
}> {
  override get message() {
    return `${this.path}: unsupported WAV encoding (format tag ${this.formatTag}, ${this.bitsPerSample} bits per sample); supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit`
  }
}

/** A WAV file whose data chunk declares more bytes than the file holds (cut off in a copy or a download). */
export class TruncatedWavError extends Data.TaggedError("TruncatedWavError")<{
  readonly path: string
  readonly declaredBytes: number
  readonly presentBytes: number
}> {
  override get message() {
    return `${this.path} is truncated: its data chunk declares ${this.declaredBytes} bytes of audio, the file holds ${this.presentBytes}`
  }
}

/** Audio too short to make one 80 ms frame, where a whole frame is needed (the input of a conversation). */
export class AudioTooShortError extends Data.TaggedError("AudioTooShortError")<{
  readonly path: string
  readonly samples: number
  readonly minimum: number
}> {
  override get message() {
    return `${this.path} holds ${this.samples} samples at 24 kHz (${((this.samples / 24000) * 1000).toFixed(1)} ms), less than one 80 ms frame (${this.minimum} samples)`
  }
}

/** The audio holds no samples at all. */
export class EmptyAudioError extends Data.TaggedError("EmptyAudioError")<{
  readonly path: string
}> {
  override get message() {
    return `${this.path} holds zero samples of audio`
  }
}

/** Audio at a sample rate that the receiver does not accept. */
export class SampleRateMismatchError extends Data.TaggedError("SampleRateMismatchError")<{
  readonly where: string
  readonly expected: number
  readonly actual: number
}> {
  override get message() {
    return `${this.where}: expected a sample rate of ${this.expected} Hz, got ${this.actual} Hz`
  }
}

/** A frame whose length is not the agreed 1920 samples. */
export class FrameLengthError extends Data.TaggedError("FrameLengthError")<{
  readonly where: string
  readonly expected: number
  readonly actual: number
}> {
  override get message() {
    return `${this.where}: frames must hold ${this.expected} samples, got ${this.actual}`
  }
}

/** Writing audio to disk failed (open, write, header update or close). */
export class AudioWriteError extends Data.TaggedError("AudioWriteError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot write audio to ${this.path}: ${this.reason}`
  }
}

/** The resampler failed to load or to run. */
export class ResampleError extends Data.TaggedError("ResampleError")<{
  readonly fromRate: number
  readonly toRate: number
  readonly reason: string
}> {
  override get message() {
    return `resampling ${this.fromRate} Hz -> ${this.toRate} Hz failed: ${this.reason}`
  }
}

/** The optional native audio library (node-web-audio-api) is not installed or cannot load here. */
export class AudioDeviceSupportMissingError extends Data.TaggedError("AudioDeviceSupportMissingError")<{
  readonly reason: string
}> {
  override get message() {
    return `no audio device support installed/available: ${this.reason}`
  }
}

/** Device support is present but no usable microphone or speaker exists, or it failed. */
export class AudioDeviceUnavailableError extends Data.TaggedError("AudioDeviceUnavailableError")<{
  readonly device: "microphone" | "speaker"
  readonly reason: string
}> {
  override get message() {
    return `no usable ${this.device}: ${this.reason}`
  }
}

export type WavReadError =
  | AudioFileNotFoundError
  | AudioFileReadError
  | NotAWavError
  | TruncatedWavError
  | UnsupportedWavEncodingError
  | EmptyAudioError

export type AudioError =
  | WavReadError
  | AudioTooShortError
  | SampleRateMismatchError
  | FrameLengthError
  | AudioWriteError
  | ResampleError
  | AudioDeviceSupportMissingError
  | AudioDeviceUnavailableError
