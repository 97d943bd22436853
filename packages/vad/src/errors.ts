import { Data } from "effect"

/** The detector could not open or run, or was given a frame it cannot take. */
export class VoiceActivityError extends Data.TaggedError("VoiceActivityError")<{
  /** Which detector: "silero-v5", "energy", ... */
  readonly detector: string
  readonly operation: "open" | "frame" | "run" | "reset"
  readonly reason: string
}> {
  override get message() {
    return `voice activity (${this.detector}) ${this.operation}: ${this.reason}`
  }
}
