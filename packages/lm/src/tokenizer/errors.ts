import { Data } from "effect"

/** A SentencePiece model that cannot be loaded: missing, unreadable, or not a `ModelProto`. */
export class TokenizerError extends Data.TaggedError("TokenizerError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `SentencePiece model ${this.path}: ${this.reason}`
  }
}
