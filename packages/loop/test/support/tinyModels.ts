// The upstream tiny random-weight fixtures (PERSONAPLEX_FIXTURES) as the loop's model layers. Shared by
// the tiny-model tests and bench/pause-with-and-without-early-compaction.ts (which Node runs by
// stripping types: erasable syntax only, packages by name).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { LmConfig, LmGen, type LmGenOptions } from "@personaplex/lm"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Layer } from "effect"

export const fixtures = upstreamFixturesDir()
export const tokenizerModel = fileURLToPath(
  new URL("../../../lm/test/fixtures/tokenizer/tiny.model", import.meta.url),
)
export const tinyModelsAvailable =
  fs.existsSync(path.join(fixtures, "lm-tiny.safetensors")) && fs.existsSync(tokenizerModel)

const json = (name: string) => JSON.parse(fs.readFileSync(path.join(fixtures, name), "utf8"))

/** lm-tiny and mimi-tiny on `ortSession` (default: the CPU layer tests use). */
export const tinyModels = (
  options: {
    readonly sampling?: LmGenOptions["sampling"]
    readonly ortSession?: Layer.Layer<OrtSession>
  } = {},
) =>
  Layer.mergeAll(
    MimiCodec.layer({
      checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
      config: MimiConfig.fromJson(json("mimi-tiny.json")),
    }),
    LmGen.layer({
      checkpoint: path.join(fixtures, "lm-tiny.safetensors"),
      config: LmConfig.fromJson(json("lm-tiny.json")),
      ...(options.sampling ? { sampling: options.sampling } : {}),
    }),
  ).pipe(Layer.provide(options.ortSession ?? OrtSession.layerCpu))
