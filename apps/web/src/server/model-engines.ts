import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assets, loadThinkingClip } from "@personaplex/audio-io"
import { ensureSmokeModels } from "@personaplex/cli"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { Compactor } from "@personaplex/compaction"
import { LmConfig, LmGen, TextTokenizer } from "@personaplex/lm"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { LoopEngine } from "./loop-engine.ts"

/** Model files for the loop: checkpoints, their architecture configs (upstream JSON layout), tokenizer. */
export interface ModelPaths {
  readonly mimi: string
  readonly mimiConfig?: string
  readonly lm: string
  readonly lmConfig?: string
  readonly tokenizer: string
}

export interface ModelEngineOptions {
  /** Input frames (80 ms) per conversation window. */
  readonly windowFrames: number
  /** The thinking clip (WAV); default audio-io's "Hmm, let me think". */
  readonly thinkingClip?: string
  /** Default: the model-free compactor. */
  readonly compactor?: Layer.Layer<Compactor, unknown>
}

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

/**
 * The real conversation loop on model files, on the CPU. Every session gets its own Mimi and LM
 * (built from these files when it starts); the tokenizer, compactor and ONNX runtime are shared.
 */
export const modelLoopEngine = (paths: ModelPaths, options: ModelEngineOptions) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const thinkingClip = yield* loadThinkingClip(options.thinkingClip ?? assets.thinkingWav)
      const models = Layer.mergeAll(
        MimiCodec.layer({
          checkpoint: paths.mimi,
          ...(paths.mimiConfig === undefined
            ? {}
            : { config: MimiConfig.fromJson(readJson(paths.mimiConfig)) }),
        }),
        LmGen.layer({
          checkpoint: paths.lm,
          ...(paths.lmConfig === undefined ? {} : { config: LmConfig.fromJson(readJson(paths.lmConfig)) }),
        }),
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

export const defaultSmokeCache = (): string => path.join(os.tmpdir(), "personaplex-smoke-models")

/**
 * The real loop on the smoke models of `personaplex demo` (random weights of the tiny Mimi and LM
 * architectures, generated once into `cacheDir`): every stage runs, the audio and text are noise.
 */
export const smokeLoopEngine = (options: ModelEngineOptions & { readonly cacheDir?: string }) =>
  Layer.unwrap(
    Effect.map(ensureSmokeModels(options.cacheDir ?? defaultSmokeCache()), (models) =>
      modelLoopEngine(models, options),
    ),
  )
