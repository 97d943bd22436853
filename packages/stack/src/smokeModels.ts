import * as fs from "node:fs"
import * as path from "node:path"
import { MimiConfig, writeRandomMimiCheckpoint } from "@personaplex/codec"
import { LmConfig, lmCheckpointTensors, writeRandomLmCheckpoint } from "@personaplex/lm"
import type { TensorStatistics } from "@personaplex/runtime"
import { Data, Effect } from "effect"
import { packageRootOf } from "./packageRoot.ts"

const asset = (...parts: Array<string>) => path.join(packageRootOf(import.meta.url), "assets", ...parts)

/** Files shipped with this package: the tiny configs, their tensor statistics manifests, a tiny tokenizer. */
export const smokeAssets = {
  mimiConfig: asset("smoke", "mimi-tiny.json"),
  lmConfig: asset("smoke", "lm-tiny.json"),
  mimiTensors: asset("smoke", "mimi-tiny.tensors.json"),
  lmTensors: asset("smoke", "lm-tiny.tensors.json"),
  tokenizer: asset("tokenizer", "tiny.model"),
} as const

export interface SmokeModels {
  readonly dir: string
  readonly mimi: string
  readonly lm: string
  readonly mimiConfig: string
  readonly lmConfig: string
  readonly tokenizer: string
  /** False when the cache already held them. */
  readonly generated: boolean
}

export class SmokeModelError extends Data.TaggedError("SmokeModelError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `cannot prepare the smoke models in ${this.path}: ${this.reason}`
  }
}

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

const SMOKE_METADATA = { personaplex_smoke_model: "random weights, tiny architecture" }

/** Written beside `target`, then renamed: a run cut off midway leaves no half-written model. */
const writeAtomically = (target: string, write: (file: string) => void) => {
  const temp = `${target}.${process.pid}.tmp`
  write(temp)
  fs.renameSync(temp, target)
}

const writeSmokeMimi = (target: string, seed: number) =>
  writeAtomically(target, (file) =>
    writeRandomMimiCheckpoint(file, MimiConfig.fromJson(readJson(smokeAssets.mimiConfig)), seed, {
      statistics: readJson(smokeAssets.mimiTensors) as ReadonlyArray<TensorStatistics>,
      metadata: SMOKE_METADATA,
    }),
  )

const writeSmokeLm = (target: string, seed: number) =>
  writeAtomically(target, (file) =>
    writeRandomLmCheckpoint(
      file,
      lmCheckpointTensors(LmConfig.fromJson(readJson(smokeAssets.lmConfig))),
      seed,
      {
        statistics: readJson(smokeAssets.lmTensors) as ReadonlyArray<TensorStatistics>,
        metadata: SMOKE_METADATA,
      },
    ),
  )

/** Bump when the generator or the manifests change, so stale caches are regenerated. */
const GENERATOR_VERSION = "1"

/**
 * Random-weight checkpoints of the tiny Mimi and LM architectures (upstream tensor names),
 * generated once into `dir` and reused. They exercise the whole pipeline; they say nothing
 * about PersonaPlex's quality (their audio is noise).
 */
export const ensureSmokeModels = (dir: string, seed = 1): Effect.Effect<SmokeModels, SmokeModelError> =>
  Effect.try({
    try: () => {
      const mimi = path.join(dir, "mimi-smoke.safetensors")
      const lm = path.join(dir, "lm-smoke.safetensors")
      const stamp = path.join(dir, "smoke-models.json")
      const wanted = JSON.stringify({ version: GENERATOR_VERSION, seed })
      const fresh =
        fs.existsSync(mimi) &&
        fs.existsSync(lm) &&
        fs.existsSync(stamp) &&
        fs.readFileSync(stamp, "utf8") === wanted
      if (!fresh) {
        fs.mkdirSync(dir, { recursive: true })
        writeSmokeMimi(mimi, seed)
        writeSmokeLm(lm, seed + 1)
        fs.writeFileSync(stamp, wanted)
      }
      return {
        dir,
        mimi,
        lm,
        mimiConfig: smokeAssets.mimiConfig,
        lmConfig: smokeAssets.lmConfig,
        tokenizer: smokeAssets.tokenizer,
        generated: !fresh,
      }
    },
    catch: (error) => new SmokeModelError({ path: dir, reason: (error as Error).message ?? String(error) }),
  })
