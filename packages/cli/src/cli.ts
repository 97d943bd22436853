import * as fs from "node:fs"
import * as path from "node:path"
import { packageRootOf } from "@personaplex/stack"
import { Command } from "effect/cli"
import { demoCommand } from "./commands/demo.ts"
import { modelCommand } from "./commands/model.ts"
import { runCommand } from "./commands/run.ts"
import { voiceCommand } from "./commands/voice.ts"

export const version: string = JSON.parse(
  fs.readFileSync(path.join(packageRootOf(import.meta.url), "package.json"), "utf8"),
).version

/** The `personaplex` command and its subcommands. */
export const cli = Command.make("personaplex").pipe(
  Command.withDescription("Run NVIDIA PersonaPlex locally in a windowed conversation loop"),
  Command.withSubcommands([runCommand, demoCommand, modelCommand, voiceCommand]),
)
