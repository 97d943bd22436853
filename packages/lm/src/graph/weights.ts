import type { Checkpoint } from "@personaplex/runtime"
import { LmWeightsError } from "../errors.ts"

/** A PyTorch-layout linear weight `[out, in]` widened to f32. */
export interface LinearWeight {
  readonly name: string
  readonly out: number
  readonly in: number
  readonly data: Float32Array
}

/**
 * Reads LM tensors from a checkpoint as f32, applying upstream's loader patches
 * (upstream-spec §3.9): an 8-step depformer checkpoint serves steps 8..15 from steps 0..7.
 */
export class LmWeights {
  private readonly cache = new Map<string, { shape: ReadonlyArray<number>; data: Float32Array }>()

  constructor(private readonly checkpoint: Checkpoint) {}

  private fail(tensor: string, reason: string): never {
    throw new LmWeightsError({ checkpoint: this.checkpoint.source, tensor, reason })
  }

  /** Whole tensor as f32, shape checked. Throws `LmWeightsError`. */
  tensor(name: string, shape: ReadonlyArray<number>): Float32Array {
    const { shape: actual, data } = this.read(this.resolve(name))
    const numel = shape.reduce((a, b) => a * b, 1)
    if (data.length !== numel || actual.reduce((a, b) => a * b, 1) !== numel)
      this.fail(name, `expected shape [${shape}], found [${actual}]`)
    return data
  }

  /** Rows `[start, start + count)` of a `[rows, in]` weight (a per-step slice of a depformer projection). */
  linear(
    name: string,
    out: number,
    inFeatures: number,
    step?: { readonly index: number; readonly steps: number },
  ): LinearWeight {
    const resolved = this.resolve(name)
    const { shape, data } = this.read(resolved)
    if (shape[shape.length - 1] !== inFeatures)
      this.fail(name, `expected ${inFeatures} input features, found shape [${shape}]`)
    const rows = data.length / inFeatures
    if (!step) {
      if (rows !== out) this.fail(name, `expected shape [${out}, ${inFeatures}], found [${shape}]`)
      return { name, out, in: inFeatures, data }
    }
    // Stacked per-step rows: a checkpoint with fewer steps repeats them (upstream's concatenation patch).
    const storedSteps = rows / out
    if (!Number.isInteger(storedSteps) || storedSteps < 1 || step.steps % storedSteps !== 0)
      this.fail(name, `expected ${step.steps} (or 8) steps of ${out} rows, found shape [${shape}]`)
    const k = step.index % storedSteps
    return {
      name: `${name}[step ${step.index}]`,
      out,
      in: inFeatures,
      data: data.subarray(k * out * inFeatures, (k + 1) * out * inFeatures),
    }
  }

  private resolve(name: string): string {
    if (this.checkpoint.has(name)) return name
    const patched = name.replace(
      /(gating|linears|depformer_in|depformer_emb)\.(\d+)\./,
      (match, group: string, index: string) => {
        const n = Number(index)
        return n >= 8 ? `${group}.${n - 8}.` : match
      },
    )
    if (patched !== name && this.checkpoint.has(patched)) return patched
    return this.fail(name, "missing from the checkpoint")
  }

  private read(name: string) {
    let entry = this.cache.get(name)
    if (!entry) {
      const t = this.checkpoint.float32Sync(name)
      entry = { shape: t.shape, data: t.data }
      this.cache.set(name, entry)
    }
    return entry
  }

  /** Drop the f32 copies once the graphs hold the weights. */
  clear(): void {
    this.cache.clear()
  }
}
