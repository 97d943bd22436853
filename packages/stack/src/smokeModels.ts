import * as fs from "node:fs"
import * as path from "node:path"
import { float32ToBf16, writeSafetensors } from "@personaplex/runtime"
import { Data, Effect } from "effect"
import { packageRootOf } from "./packageRoot.ts"

const asset = (...parts: Array<string>) => path.join(packageRootOf(import.meta.url), "assets", ...parts)

/** Files shipped with this package: the tiny configs, their tensor manifests, a tiny tokenizer. */
export const smokeAssets = {
  mimiConfig: asset("smoke", "mimi-tiny.json"),
  lmConfig: asset("smoke", "lm-tiny.json"),
  mimiTensors: asset("smoke", "mimi-tiny.tensors.json"),
  lmTensors: asset("smoke", "lm-tiny.tensors.json"),
  tokenizer: asset("tokenizer", "tiny.model"),
} as const

/** One tensor of a manifest: upstream name, dtype, shape, and the statistics its random values follow. */
interface TensorManifestEntry {
  readonly name: string
  readonly dtype: "F32" | "BF16"
  readonly shape: ReadonlyArray<number>
  readonly mean: number
  readonly std: number
  readonly min: number
  readonly max: number
}

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

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
const uniform = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Normal(mean, std) values clamped to the range the upstream random init produced. */
const randomValues = (entry: TensorManifestEntry, next: () => number): Float32Array => {
  const count = entry.shape.reduce((a, b) => a * b, 1)
  const values = new Float32Array(count)
  if (entry.std === 0) return values.fill(entry.mean)
  for (let i = 0; i < count; i++) {
    const gaussian = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
    values[i] = Math.min(entry.max, Math.max(entry.min, entry.mean + entry.std * gaussian))
  }
  return values
}

const writeRandomCheckpoint = (manifestPath: string, target: string, seed: number) => {
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as ReadonlyArray<TensorManifestEntry>
  const next = uniform(seed)
  const tensors = manifest.map((entry) => {
    const values = randomValues(entry, next)
    return {
      name: entry.name,
      dtype: entry.dtype,
      shape: entry.shape,
      data: entry.dtype === "BF16" ? float32ToBf16(values) : values,
    }
  })
  const temp = `${target}.${process.pid}.tmp`
  writeSafetensors(temp, tensors, { personaplex_smoke_model: "random weights, tiny architecture" })
  fs.renameSync(temp, target)
}

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
        writeRandomCheckpoint(smokeAssets.mimiTensors, mimi, seed)
        writeRandomCheckpoint(smokeAssets.lmTensors, lm, seed + 1)
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
