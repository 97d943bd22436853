import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { InvalidVoiceName, UnknownVoice, VoicesFolderError } from "./errors.ts"

/** A voice from the voices folder: an embedding cache (upstream `.pt`, our `.safetensors`) or a WAV file. */
export interface Voice {
  readonly name: string
  readonly path: string
  readonly kind: "embeddings" | "audio"
}

const voiceExtensions: Record<string, Voice["kind"]> = {
  ".pt": "embeddings",
  ".safetensors": "embeddings",
  ".wav": "audio",
}

/** Only plain file names pass; separators, "..", NUL and leading dots never reach the file system. */
const isPlainName = (name: string): boolean =>
  name.length > 0 &&
  name.length <= 255 &&
  !name.startsWith(".") &&
  !/[/\\\0]/.test(name) &&
  path.basename(name) === name &&
  !path.isAbsolute(name)

/**
 * The allow-list of voices: the files directly inside one folder, read when asked. A request can only name
 * one of them; nothing it sends is joined to a path before it matched the list.
 */
export class VoiceCatalog {
  /**
   * `folder`: its files are the voices, read at each request. `listed`: a fixed list instead (the smoke
   * voices: upstream's names, files of our format), the names still checked the same way.
   */
  constructor(
    readonly folder: string | undefined,
    private readonly listed?: ReadonlyArray<Voice>,
  ) {}

  /** A catalog of exactly these voices. */
  static of(voices: ReadonlyArray<Voice>): VoiceCatalog {
    return new VoiceCatalog(
      undefined,
      [...voices].sort((a, b) => a.name.localeCompare(b.name)),
    )
  }

  readonly list: Effect.Effect<ReadonlyArray<Voice>, VoicesFolderError> = Effect.suspend(() => {
    if (this.listed !== undefined) return Effect.succeed(this.listed.filter((v) => isPlainName(v.name)))
    const folder = this.folder
    if (folder === undefined) return Effect.succeed([])
    return Effect.try({
      try: () =>
        fs
          .readdirSync(folder, { withFileTypes: true })
          .filter((entry) => entry.isFile() && isPlainName(entry.name))
          .flatMap((entry): Voice[] => {
            const kind = voiceExtensions[path.extname(entry.name).toLowerCase()]
            return kind === undefined ? [] : [{ name: entry.name, path: path.join(folder, entry.name), kind }]
          })
          .sort((a, b) => a.name.localeCompare(b.name)),
      catch: (cause) => new VoicesFolderError({ folder, cause }),
    })
  })

  /** `""` means "no voice prompt" (upstream skips the voice phase then). */
  resolve(
    name: string,
  ): Effect.Effect<Voice | undefined, InvalidVoiceName | UnknownVoice | VoicesFolderError> {
    return Effect.gen({ self: this }, function* () {
      if (name === "") return undefined
      if (!isPlainName(name)) return yield* new InvalidVoiceName({ voice: name })
      const voices = yield* this.list
      const voice = voices.find((v) => v.name === name)
      if (voice === undefined)
        return yield* new UnknownVoice({ voice: name, known: voices.map((v) => v.name) })
      return voice
    })
  }
}
