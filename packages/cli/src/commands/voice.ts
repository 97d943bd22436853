import * as fs from "node:fs"
import * as path from "node:path"
import { loadMono24k } from "@personaplex/audio-io"
import { LmGen, saveVoicePrompt, VoicePrompt } from "@personaplex/lm"
import { readTorchVoicePrompt } from "@personaplex/models"
import { loadRunConfig, modelLayer, resolveModelFiles, resolveSettings } from "@personaplex/stack"
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { CommandFailed, userFacing } from "./failure.ts"
import { opt, writeOut } from "./options.ts"

/** Upstream `.pt` voice → our voice cache; no model needed (the file already holds embeddings and token ring). */
const importTorch = (input: string, output: string) =>
  Effect.gen(function* () {
    const torch = yield* userFacing(readTorchVoicePrompt(input))
    yield* userFacing(
      saveVoicePrompt(output, VoicePrompt.cached(torch.embeddings, torch.frames, torch.cache)),
    )
    return `${torch.frames} frames × ${torch.dim}`
  })

/** A voice recording → our voice cache, by running the voice phase through the configured Mimi and LM. */
const importWav = (input: string, output: string, configPath: string) =>
  Effect.gen(function* () {
    const config = yield* userFacing(loadRunConfig(configPath))
    const resolved = resolveSettings(config, {})
    if ("problems" in resolved) return yield* new CommandFailed({ message: resolved.problems.join("\n") })
    const files = yield* userFacing(resolveModelFiles(resolved.settings.models))
    const pcm = yield* userFacing(loadMono24k(input))
    const cached = yield* userFacing(
      Effect.gen(function* () {
        const lm = yield* LmGen
        return yield* lm.recordVoicePrompt(pcm)
      }).pipe(Effect.provide(modelLayer(resolved.settings, files))),
    )
    yield* userFacing(saveVoicePrompt(output, cached))
    return `${cached.frames} frames`
  })

const importCommand = Command.make(
  "import",
  {
    input: Argument.String("voice").pipe(
      Argument.withDescription("an upstream .pt voice or a voice recording (.wav)"),
    ),
    out: Flag.String("out").pipe(Flag.withDescription("voice cache to write (.safetensors)"), Flag.optional),
    config: Flag.String("config").pipe(
      Flag.withDescription("run configuration naming the models (needed for a .wav)"),
      Flag.optional,
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const input = path.resolve(f.input)
      if (!fs.existsSync(input)) return yield* new CommandFailed({ message: `${input}: no such file` })
      const output = path.resolve(
        opt(f.out) ?? `${input.slice(0, -path.extname(input).length)}.voice.safetensors`,
      )
      const ext = path.extname(input).toLowerCase()
      let what: string
      if (ext === ".pt") what = yield* importTorch(input, output)
      else {
        const configPath = opt(f.config)
        if (configPath === undefined)
          return yield* new CommandFailed({
            message: "importing a recording runs the models: give --config config.yaml",
          })
        what = yield* importWav(input, output, path.resolve(configPath))
      }
      writeOut(
        `voice cache written: ${output} (${what})\nuse it as \`voice: ${output}\` in the run configuration\n`,
      )
    }),
).pipe(
  Command.withDescription(
    "Turn a voice (.pt from the release, or a .wav recording) into a reusable voice cache",
  ),
)

export const voiceCommand = Command.make("voice").pipe(
  Command.withDescription("Manage voice prompts"),
  Command.withSubcommands([importCommand]),
)
