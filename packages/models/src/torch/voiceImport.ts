import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, float32ToBf16, writeSafetensors } from "@personaplex/runtime"
import { Effect } from "effect"
import { TorchFormatError } from "../errors.ts"
import {
  readTorchVoicePrompt,
  type TorchVoicePrompt,
  VOICE_CACHE_SLOTS,
  VOICE_CACHE_STREAMS,
} from "./voicePrompt.ts"

/** The `__metadata__.format` @personaplex/lm's `loadVoicePrompt` expects; files written here load there. */
export const VOICE_PROMPT_FORMAT = "personaplex-voice-prompt"

/** True when every value is a bfloat16 (low 16 bits zero): then BF16 storage is exact. */
const isBf16Exact = (values: Float32Array) => {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0xffff) !== 0) return false
  return true
}

/**
 * Writes a voice prompt as safetensors: `embeddings` [frames, dim] (BF16 when exact, else F32)
 * and `cache` [17, 4] I32, metadata `{ format: "personaplex-voice-prompt", version: "1", frames, dim }`:
 * the layout of @personaplex/lm's `saveVoicePrompt`, so its `loadVoicePrompt` reads these files.
 */
export const writeVoicePromptSafetensors = (prompt: TorchVoicePrompt, file: string): void => {
  const exact = isBf16Exact(prompt.embeddings)
  writeSafetensors(
    file,
    [
      {
        name: "embeddings",
        dtype: exact ? "BF16" : "F32",
        shape: [prompt.frames, prompt.dim],
        data: exact ? float32ToBf16(prompt.embeddings) : prompt.embeddings,
      },
      { name: "cache", dtype: "I32", shape: [VOICE_CACHE_STREAMS, VOICE_CACHE_SLOTS], data: prompt.cache },
    ],
    { format: VOICE_PROMPT_FORMAT, version: "1", frames: String(prompt.frames), dim: String(prompt.dim) },
  )
}

const readSafetensorsVoicePrompt = (file: string): Effect.Effect<TorchVoicePrompt, TorchFormatError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const checkpoint = yield* Checkpoint.open(file)
      const embeddings = yield* checkpoint.float32("embeddings")
      const cache = yield* checkpoint.int32("cache")
      if (embeddings.shape.length !== 2)
        return yield* Effect.fail(`"embeddings" has shape [${embeddings.shape}], expected [frames, dim]`)
      if (cache.data.length !== VOICE_CACHE_STREAMS * VOICE_CACHE_SLOTS)
        return yield* Effect.fail(
          `"cache" has shape [${cache.shape}], expected [${VOICE_CACHE_STREAMS}, ${VOICE_CACHE_SLOTS}]`,
        )
      return {
        embeddings: embeddings.data,
        frames: embeddings.shape[0]!,
        dim: embeddings.shape[1]!,
        cache: cache.data,
      }
    }),
  ).pipe(
    Effect.mapError(
      (error) =>
        new TorchFormatError({
          path: file,
          reason: typeof error === "string" ? `voice prompt ${error}` : error.message,
        }),
    ),
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
        try: () => {
          fs.mkdirSync(destDir, { recursive: true })
          writeVoicePromptSafetensors(prompt, out)
        },
        catch: (error) =>
          new TorchFormatError({ path: out, reason: `cannot write (${(error as Error).message})` }),
      })
      imported.push({ name, source: file, path: out, frames: prompt.frames, dim: prompt.dim })
    }
    return imported
  })
