#!/usr/bin/env node
import { fileURLToPath } from "node:url"
import { Cause, Effect, Exit } from "effect"
import { loggerLayer } from "./server/logging.ts"
import { parseServerArgs, startServer, usage } from "./server/main.ts"

const main = Effect.gen(function* () {
  const args = yield* parseServerArgs(process.argv.slice(2)).pipe(
    Effect.catch((error) =>
      Effect.sync(() => {
        process.stderr.write(
          error._tag === "ServerArgsError" ? `${error.message}\n\n${usage}` : `${error.message}\n`,
        )
        process.exit(2)
      }),
    ),
  )
  if (args === "help") {
    process.stdout.write(usage)
    return
  }
  // The engine and the server live in this scope: as long as the process.
  yield* Effect.scoped(
    startServer(args, fileURLToPath(new URL("./public", import.meta.url))).pipe(
      Effect.andThen(Effect.never),
      Effect.provide(loggerLayer(args.logFormat, args.logLevel)),
    ),
  )
})

Effect.runPromiseExit(main).then((exit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    const error = Cause.squash(exit.cause)
    process.stderr.write(`personaplex-web: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
})
