import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assets, loadThinkingClip } from "@personaplex/audio-io"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { Compactor } from "@personaplex/compaction"
import { LmConfig, LmGen, TextTokenizer } from "@personaplex/lm"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { LoopEngine } from "./loop-engine.ts"

/** Where the tiny random-weight models live: the upstream fixtures and the LM package's tiny tokenizer. */
export interface TinyModelPaths {
  readonly mimi: string
  readonly mimiConfig: string
  readonly lm: string
  readonly lmConfig: string
  readonly tokenizer: string
}

/** The monorepo root: the first folder above this module with a pnpm-workspace.yaml (from src/ or dist/). */
const repoRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!fs.existsSync(path.join(dir, "pnpm-workspace.yaml")) && path.dirname(dir) !== dir)
    dir = path.dirname(dir)
  return dir
}

export const tinyModelPaths = (): TinyModelPaths => {
  const fixtures = upstreamFixturesDir()
  return {
    mimi: path.join(fixtures, "mimi-tiny.safetensors"),
    mimiConfig: path.join(fixtures, "mimi-tiny.json"),
    lm: path.join(fixtures, "lm-tiny.safetensors"),
    lmConfig: path.join(fixtures, "lm-tiny.json"),
    tokenizer: path.join(repoRoot(), "packages", "lm", "test", "fixtures", "tokenizer", "tiny.model"),
  }
}

/** The files that are missing, if any. */
export const missingTinyModels = (paths: TinyModelPaths = tinyModelPaths()): string[] =>
  Object.values(paths).filter((p) => !fs.existsSync(p))

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

/**
 * The real conversation loop on model files (CPU): with `tinyModelPaths()` this is the smoke
 * configuration of the web server. On the tiny random-weight models the output is noise-like, but every
 * stage runs: Mimi encode, LM step, Mimi decode, windows, thinking clip, compaction (model-free by default)
 * and re-prompting.
 */
export const modelLoopEngine = (options: {
  readonly windowFrames: number
  readonly paths?: Partial<TinyModelPaths>
  readonly thinkingClip?: string
  readonly compactor?: Layer.Layer<Compactor, unknown>
}) => {
  const paths = { ...tinyModelPaths(), ...options.paths }
  return Layer.unwrap(
    Effect.gen(function* () {
      const thinkingClip = yield* loadThinkingClip(options.thinkingClip ?? assets.thinkingWav)
      const models = Layer.mergeAll(
        MimiCodec.layer({ checkpoint: paths.mimi, config: MimiConfig.fromJson(readJson(paths.mimiConfig)) }),
        LmGen.layer({ checkpoint: paths.lm, config: LmConfig.fromJson(readJson(paths.lmConfig)) }),
      )
      return LoopEngine.layer({ models, windowFrames: options.windowFrames, thinkingClip })
    }),
  ).pipe(
    Layer.provide(
      Layer.mergeAll(
        OrtSession.layerCpu,
        TextTokenizer.layer(paths.tokenizer),
        options.compactor ?? Compactor.modelFree,
      ),
    ),
  )
}

/** The loop on the tiny models from the shared fixtures. */
export const tinyLoopEngine = (options: { windowFrames: number }) => modelLoopEngine(options)
