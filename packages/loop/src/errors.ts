import { Data } from "effect"

/** Options the loop cannot run with (named field, offending value). */
export class LoopOptionsError extends Data.TaggedError("LoopOptionsError")<{
  readonly field: string
  readonly message: string
}> {}
