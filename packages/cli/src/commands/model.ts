import * as path from "node:path"
import {
  ALL_FILES,
  inspectCheckpoints,
  ModelStore,
  type PersonaPlexFile,
  renderInspection,
  renderProgress,
} from "@personaplex/models"
import { defined } from "@personaplex/stack"
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { CommandFailed, userFacing } from "./failure.ts"
import { opt, writeOut } from "./options.ts"

const fetchCommand = Command.make(
  "fetch",
  {
    repo: Flag.String("repo").pipe(
      Flag.withDescription("Hugging Face repo (default nvidia/personaplex-7b-v1)"),
      Flag.optional,
    ),
    revision: Flag.String("revision").pipe(Flag.optional),
    cacheDir: Flag.String("cache-dir").pipe(
      Flag.withDescription("default $PERSONAPLEX_CACHE or ~/.cache/personaplex"),
      Flag.optional,
    ),
    files: Flag.String("files").pipe(
      Flag.withDescription(`comma-separated subset of ${ALL_FILES.join(",")} (default: all)`),
      Flag.optional,
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const wanted = opt(f.files)
        ?.split(",")
        .map((s) => s.trim()) ?? [...ALL_FILES]
      const unknown = wanted.filter((w) => !(ALL_FILES as ReadonlyArray<string>).includes(w))
      if (unknown.length > 0)
        return yield* new CommandFailed({
          message: `--files: unknown ${unknown.join(", ")} (known: ${ALL_FILES.join(", ")})`,
        })
      const store = ModelStore.layer(
        defined({
          repo: opt(f.repo),
          revision: opt(f.revision),
          cacheDir: opt(f.cacheDir) === undefined ? undefined : path.resolve(opt(f.cacheDir)!),
        }),
      )
      const files = yield* userFacing(
        ModelStore.use((s) =>
          s.resolve({
            files: wanted as ReadonlyArray<PersonaPlexFile>,
            onProgress: renderProgress(process.stdout),
          }),
        ).pipe(Effect.provide(store)),
      )
      writeOut(`model files (${files.source}) in ${files.folder}\n`)
      for (const [key, value] of Object.entries(files))
        if (key !== "source" && key !== "folder") writeOut(`  ${key.padEnd(15)} ${value}\n`)
    }),
).pipe(Command.withDescription("Download (resuming, verifying) the PersonaPlex release files into the cache"))

const inspectCommand = Command.make(
  "inspect",
  {
    location: Argument.String("checkpoint").pipe(
      Argument.withDescription("a .safetensors file, shard index or folder"),
    ),
    tensors: Flag.Boolean("tensors").pipe(Flag.withDescription("list every tensor"), Flag.withDefault(false)),
  },
  (f) =>
    Effect.gen(function* () {
      const summaries = yield* userFacing(inspectCheckpoints(path.resolve(f.location)))
      writeOut(`${renderInspection(summaries, { tensors: f.tensors })}\n`)
    }),
).pipe(Command.withDescription("Show what a checkpoint holds: model kind, dtypes, parameters, memory"))

export const modelCommand = Command.make("model").pipe(
  Command.withDescription("Fetch and inspect model checkpoints"),
  Command.withSubcommands([fetchCommand, inspectCommand]),
)
