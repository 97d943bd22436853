import { Data } from "effect"

/** A compaction input that cannot be used (empty persona, bad budget, ...). */
export class CompactionInputError extends Data.TaggedError("CompactionInputError")<{
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `compaction input "${this.field}": ${this.reason}`
  }
}

/** The GGUF model (or the llama.cpp runtime) could not be loaded. */
export class ModelLoadError extends Data.TaggedError("ModelLoadError")<{
  readonly modelPath: string
  readonly reason: string
}> {
  override get message() {
    return `cannot load GGUF model ${this.modelPath}: ${this.reason}`
  }
}

/** The local model failed while generating. */
export class GenerationError extends Data.TaggedError("GenerationError")<{
  readonly backend: string
  readonly reason: string
}> {
  override get message() {
    return `${this.backend} generation failed: ${this.reason}`
  }
}

/** The model answered, but with nothing usable (empty text, JSON that does not parse or match the schema). */
export class ModelOutputError extends Data.TaggedError("ModelOutputError")<{
  readonly backend: string
  readonly reason: string
  readonly output: string
}> {
  override get message() {
    const shown = this.output.length > 120 ? `${this.output.slice(0, 120)}...` : this.output
    return `${this.backend} output unusable: ${this.reason} (output: ${JSON.stringify(shown)})`
  }
}

/** An OpenAI-compatible endpoint failed: network error, non-2xx status, timeout, or a malformed body. */
export class HttpCompactorError extends Data.TaggedError("HttpCompactorError")<{
  readonly url: string
  readonly reason: string
  readonly status?: number
  /** Transient failures (network, timeout, 5xx, 429) are retried; others are not. */
  readonly retryable: boolean
}> {
  override get message() {
    return `POST ${this.url}${this.status === undefined ? "" : ` (HTTP ${this.status})`}: ${this.reason}`
  }
}

export type CompactionError =
  | CompactionInputError
  | ModelLoadError
  | GenerationError
  | ModelOutputError
  | HttpCompactorError
