import { Data } from "effect"

/** A config value (JSON field or option) that this implementation cannot run. */
export class LmConfigError extends Data.TaggedError("LmConfigError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `LM config "${this.field}": ${this.reason}`
  }
}

/** A checkpoint tensor needed by the LM graphs is missing or has the wrong shape. */
export class LmWeightsError extends Data.TaggedError("LmWeightsError")<{
  readonly checkpoint: string
  readonly tensor: string
  readonly reason: string
}> {
  override get message() {
    return `LM checkpoint ${this.checkpoint}, tensor "${this.tensor}": ${this.reason}`
  }
}

/** Bad input to a step or prompt (wrong length, out-of-range code). */
export class LmInputError extends Data.TaggedError("LmInputError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `LM input "${this.field}": ${this.reason}`
  }
}

/** A voice-prompt cache file that cannot be read or written. */
export class VoicePromptFileError extends Data.TaggedError("VoicePromptFileError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `voice prompt file ${this.path}: ${this.reason}`
  }
}

/** onnxruntime failed to build or run one of the LM graphs. */
export class LmRuntimeError extends Data.TaggedError("LmRuntimeError")<{
  readonly stage: "build" | "convert" | "open" | "temporal" | "depformer" | "step" | "prefill" | "state"
  readonly reason: string
}> {
  override get message() {
    return `LM ${this.stage}: ${this.reason}`
  }
}

export type LmError = LmConfigError | LmWeightsError | LmInputError | VoicePromptFileError | LmRuntimeError
