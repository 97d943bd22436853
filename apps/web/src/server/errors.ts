import { Data } from "effect"

/** The requested voice is not a plain file name from the voices folder (`../x`, `/etc/passwd`, `a/b.pt`). */
export class InvalidVoiceName extends Data.TaggedError("InvalidVoiceName")<{ readonly voice: string }> {
  override get message() {
    return `voice_prompt "${this.voice}" is not a voice name: use one of the names listed by GET /api/voices (no paths)`
  }
}

/** The voice name is well formed but no such voice exists. */
export class UnknownVoice extends Data.TaggedError("UnknownVoice")<{
  readonly voice: string
  readonly known: ReadonlyArray<string>
}> {
  override get message() {
    const list = this.known.length > 0 ? this.known.join(", ") : "(none)"
    return `voice_prompt "${this.voice}" is not a known voice; known voices: ${list}`
  }
}

/** The voices folder could not be read. */
export class VoicesFolderError extends Data.TaggedError("VoicesFolderError")<{
  readonly folder: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot read the voices folder ${this.folder}: ${String(this.cause)}`
  }
}

/** A query parameter is missing or unusable. */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** The conversation engine failed to start or to step. */
export class EngineError extends Data.TaggedError("EngineError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.cause === undefined ? this.reason : `${this.reason}: ${String(this.cause)}`
  }
}

/** The HTTP server could not listen. */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    return `cannot listen on port ${this.port}: ${String(this.cause)}`
  }
}

export type SessionRefusal = InvalidVoiceName | UnknownVoice | VoicesFolderError | BadRequest
