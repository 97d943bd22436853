import { Data, Effect } from "effect"
import { CliError } from "effect/cli"

/** A command's failure, shown to the user as its message alone (exit status 1). */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string }> {
  override get [CliError.userMessage]() {
    return this.message
  }
}

/** Every typed failure of a handler becomes a CommandFailed with the error's own message. */
export const userFacing = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (error) => new CommandFailed({ message: error.message }))
