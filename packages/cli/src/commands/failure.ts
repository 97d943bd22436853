import { Cause, Data, Effect } from "effect"
import { CliError } from "effect/cli"

/** A command's failure, shown to the user as its message (exit status 1), with a hint line where one helps. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly message: string
  readonly hint?: string
}> {
  override get [CliError.userMessage]() {
    return this.message
  }
}

/** The message the user sees for a typed error: its own, except where a package's wording misleads. */
export const userMessageOf = (error: { readonly message: string; readonly _tag?: string }): string => {
  const tagged = error as { _tag?: string; checkpoint?: unknown; tensor?: unknown; reason?: unknown }
  // The LM names problems with the whole checkpoint file as tensor "(file)": name the file instead
  // (once: a reader's reason may start with the file's path too).
  if (tagged._tag === "LmWeightsError" && tagged.tensor === "(file)") {
    const checkpoint = String(tagged.checkpoint)
    const reason = String(tagged.reason)
    return `LM checkpoint ${checkpoint}: ${reason.startsWith(`${checkpoint}: `) ? reason.slice(checkpoint.length + 2) : reason}`
  }
  return error.message
}

/** Every typed failure of a handler becomes a CommandFailed with the error's own message (and hint, if any). */
export const userFacing = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (error) => {
    if (error instanceof CommandFailed) return error
    const hint = (error as { readonly hint?: unknown }).hint
    return new CommandFailed({
      message: userMessageOf(error),
      ...(typeof hint === "string" ? { hint } : {}),
    })
  })

const oneReason = (error: unknown): { readonly message: string; readonly hint?: string } => {
  if (error instanceof CommandFailed) return error
  if (typeof error === "object" && error !== null) {
    const user = CliError.getUserMessage(error)
    if (user !== undefined) return { message: user }
    const message = (error as { message?: unknown }).message
    const hint = (error as { hint?: unknown }).hint
    if (typeof message === "string" && message.length > 0)
      return {
        message: userMessageOf(error as { message: string }),
        ...(typeof hint === "string" ? { hint } : {}),
      }
  }
  return { message: String(error) }
}

const indent = (text: string) => text.split("\n").join("\n  ")

/**
 * What the CLI prints for a failed command, whatever failed (a typed error, a usage error, a
 * defect thrown by a library): `error: <reason>` (a reason of several lines, such as every
 * problem of a configuration, continues indented), then `hint: <what to do>` where one helps.
 * Interruption prints nothing (the run's own summary says "interrupted"); a help request neither.
 */
export const formatFailure = (cause: Cause.Cause<unknown>): string | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const lines: Array<string> = []
  for (const reason of cause.reasons) {
    if (Cause.isInterruptReason(reason)) continue
    const error = Cause.isFailReason(reason) ? reason.error : (reason as Cause.Die).defect
    if (CliError.isCliError(error) && error._tag === "ShowHelp") {
      for (const inner of error.errors) lines.push(`error: ${indent(inner.message)}`)
      continue
    }
    const { message, hint } = oneReason(error)
    lines.push(`error: ${indent(message)}`)
    if (hint !== undefined) lines.push(`hint: ${indent(hint)}`)
  }
  return lines.length > 0 ? lines.join("\n") : undefined
}
