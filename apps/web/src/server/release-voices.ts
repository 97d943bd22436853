import { ModelStore, type ModelStoreConfig, modelStoreConfig, PERSONAPLEX_REPO } from "@personaplex/models"
import type { ModelSource } from "@personaplex/stack"
import { Data, Effect } from "effect"

/** The release's voices could not be had. */
export class ReleaseVoicesError extends Data.TaggedError("ReleaseVoicesError")<{
  readonly from: string
  readonly reason: string
}> {
  override get message() {
    return `cannot get the release voices (voices.tgz) from ${this.from}: ${this.reason}; or give --voices DIR (a folder of .pt, .safetensors or .wav voices)`
  }
}

/**
 * The voices of the PersonaPlex release for the settings' model source, as upstream's server gets them
 * when no voice folder is given: `voices.tgz` through `@personaplex/models`' store (a local release folder
 * as it is; else the Hugging Face repo, downloaded once into the cache, hash-verified, extracted) →
 * the extracted folder of `NATF0.pt` … `VARM4.pt`. `undefined` for model files of another architecture
 * (`model.lm_config`): the release's voices would not fit them.
 */
export const releaseVoicesFolder = (
  source: ModelSource,
  store: Partial<ModelStoreConfig> = {},
): Effect.Effect<string | undefined, ReleaseVoicesError> => {
  if (source._tag === "Files" && source.lmConfig !== undefined) return Effect.succeed(undefined)
  const config =
    source._tag === "Folder"
      ? modelStoreConfig({ ...store, localDir: source.dir })
      : modelStoreConfig({ ...store, ...(source._tag === "Hub" && source.repo ? { repo: source.repo } : {}) })
  const from = config.localDir ?? `${config.endpoint}/${config.repo ?? PERSONAPLEX_REPO}`
  return ModelStore.make(config)
    .resolve({ files: ["voices"] })
    .pipe(
      Effect.mapError((error) => new ReleaseVoicesError({ from, reason: error.message })),
      Effect.map((files) => files.voices),
    )
}
