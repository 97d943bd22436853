import { float32ToBf16 } from "./dtype.ts"
import { TensorStatisticsError } from "./errors.ts"
import type { TensorToWrite } from "./safetensors/write.ts"

/** One entry of a statistics manifest: a tensor's name, dtype and shape, and the statistics its random values follow. */
export interface TensorStatistics {
  readonly name: string
  readonly dtype: "F32" | "BF16"
  readonly shape: ReadonlyArray<number>
  readonly mean: number
  readonly std: number
  readonly min: number
  readonly max: number
}

/** How a random checkpoint writer fills and labels its file. */
export interface RandomCheckpointOptions {
  /**
   * Values following each tensor's statistics (`tensorsFromStatistics`) instead of the writer's
   * default init; the file then holds the tensors in the manifest's order.
   */
  readonly statistics?: ReadonlyArray<TensorStatistics>
  /** The file's safetensors metadata (default: the writer's note that the weights are random). */
  readonly metadata?: Record<string, string>
}

/**
 * Deterministic uniform numbers in [0, 1) (mulberry32). Not `makeRng`: the checkpoints drawn from the
 * shipped manifests keep the values they have always had (tests and caches rely on their outputs).
 */
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

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.length === b.length && a.every((n, i) => n === b[i])

/** Normal(mean, std) values clamped to [min, max]; the mean throughout where std is 0. */
const randomValues = (entry: TensorStatistics, next: () => number): Float32Array => {
  const values = new Float32Array(entry.shape.reduce((a, b) => a * b, 1))
  if (entry.std === 0) return values.fill(entry.mean)
  for (let i = 0; i < values.length; i++) {
    const gaussian = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
    values[i] = Math.min(entry.max, Math.max(entry.min, entry.mean + entry.std * gaussian))
  }
  return values
}

/**
 * A model's tensors with random values following a statistics manifest, drawn from one seeded stream
 * in the manifest's order. The manifest must hold exactly the tensors of `plan` (the names and shapes
 * the model's checkpoint has) in the writer's `dtype`; where it does not, `TensorStatisticsError`.
 */
export const tensorsFromStatistics = (
  plan: ReadonlyArray<{ readonly name: string; readonly shape: ReadonlyArray<number> }>,
  dtype: "F32" | "BF16",
  statistics: ReadonlyArray<TensorStatistics>,
  seed: number,
): Array<TensorToWrite> => {
  const planned = new Map(plan.map((t) => [t.name, t.shape]))
  const listed = new Set<string>()
  for (const entry of statistics) {
    const shape = planned.get(entry.name)
    const fail = (reason: string) => new TensorStatisticsError({ tensor: entry.name, reason })
    if (shape === undefined) throw fail("the model has no such tensor")
    if (listed.has(entry.name)) throw fail("listed twice")
    if (!sameShape(shape, entry.shape)) throw fail(`shape [${entry.shape}], the model's is [${shape}]`)
    if (entry.dtype !== dtype) throw fail(`dtype ${entry.dtype}, the writer's is ${dtype}`)
    listed.add(entry.name)
  }
  const missing = plan.find((t) => !listed.has(t.name))
  if (missing) throw new TensorStatisticsError({ tensor: missing.name, reason: "no statistics for it" })
  const next = uniform(seed)
  return statistics.map((entry) => {
    const values = randomValues(entry, next)
    return {
      name: entry.name,
      dtype,
      shape: entry.shape,
      data: dtype === "BF16" ? float32ToBf16(values) : values,
    }
  })
}
