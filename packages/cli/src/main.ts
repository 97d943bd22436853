import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { cli, version } from "./cli.ts"
import { formatFailure } from "./commands/failure.ts"
import { cliLoggerLayer } from "./logger.ts"

// Every failure goes through one formatter (`error: <reason>`, a `hint:` line where one helps) on
// stderr, log lines as `warning: …` there too; the exit status is 1 (0 for a plain help request, 130 after Ctrl-C).
Command.run(cli, { version, renderErrors: false }).pipe(
  Effect.provide(Layer.mergeAll(NodeServices.layer, cliLoggerLayer)),
  Effect.tapCause((cause) =>
    Effect.sync(() => {
      const text = formatFailure(cause)
      if (text !== undefined) process.stderr.write(`${text}\n`)
    }),
  ),
  NodeRuntime.runMain({ disableErrorReporting: true }),
)
