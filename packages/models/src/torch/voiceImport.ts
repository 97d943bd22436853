import * as fs from "node:fs"
import * as path from "node:path"
import { loadVoicePrompt, saveVoicePrompt, VoicePrompt } from "@personaplex/lm"
import { Effect } from "effect"
import { TorchFormatError } from "../errors.ts"
import { readTorchVoicePrompt, type TorchVoicePrompt } from "./voicePrompt.ts"

/** Writes a voice prompt in @personaplex/lm's voice-prompt file format (`saveVoicePrompt`). */
export const writeVoicePromptSafetensors = (
  prompt: TorchVoicePrompt,
  file: string,
): Effect.Effect<void, TorchFormatError> =>
  saveVoicePrompt(file, VoicePrompt.cached(prompt.embeddings, prompt.frames, prompt.cache)).pipe(
    Effect.mapError(
      (error) => new TorchFormatError({ path: file, reason: `cannot write (${error.reason})` }),
    ),
  )

const readSafetensorsVoicePrompt = (file: string): Effect.Effect<TorchVoicePrompt, TorchFormatError> =>
  loadVoicePrompt(file).pipe(
    Effect.map((prompt) => ({
      embeddings: prompt.embeddings,
      frames: prompt.frames,
      dim: prompt.frames === 0 ? 0 : prompt.embeddings.length / prompt.frames,
      cache: prompt.cache,
    })),
    Effect.mapError((error) => new TorchFormatError({ path: file, reason: `voice prompt ${error.reason}` })),
  )

/** A voice prompt from an upstream `.pt` or an imported `.safetensors`. */
export const readVoicePrompt = (file: string): Effect.Effect<TorchVoicePrompt, TorchFormatError> =>
  file.endsWith(".safetensors") ? readSafetensorsVoicePrompt(file) : readTorchVoicePrompt(file)

export interface ImportedVoice {
  readonly name: string
  readonly source: string
  readonly path: string
  readonly frames: number
  readonly dim: number
}

/**
 * Converts upstream voice prompts (a `.pt` file, or every `.pt` of a folder such as the extracted
 * `voices/`) into `<destDir>/<name>.safetensors`.
 */
export const importVoicePrompts = (
  source: string,
  destDir: string,
): Effect.Effect<ReadonlyArray<ImportedVoice>, TorchFormatError> =>
  Effect.gen(function* () {
    const files = yield* Effect.try({
      try: () =>
        fs.statSync(source).isDirectory()
          ? fs
              .readdirSync(source)
              .filter((f) => f.endsWith(".pt"))
              .sort()
              .map((f) => path.join(source, f))
          : [source],
      catch: () => new TorchFormatError({ path: source, reason: "no such file or folder" }),
    })
    if (files.length === 0)
      return yield* Effect.fail(
        new TorchFormatError({ path: source, reason: "folder holds no .pt voice prompts" }),
      )
    const imported: ImportedVoice[] = []
    for (const file of files) {
      const prompt = yield* readTorchVoicePrompt(file)
      const name = path.basename(file).replace(/\.pt$/, "")
      const out = path.join(destDir, `${name}.safetensors`)
      yield* Effect.try({
        try: () => fs.mkdirSync(destDir, { recursive: true }),
        catch: (error) =>
          new TorchFormatError({ path: destDir, reason: `cannot create (${(error as Error).message})` }),
      })
      yield* writeVoicePromptSafetensors(prompt, out)
      imported.push({ name, source: file, path: out, frames: prompt.frames, dim: prompt.dim })
    }
    return imported
  })
