import type { Checkpoint, TensorInfo } from "@personaplex/runtime"
import { resolveDepformerTensor, stackedStep } from "../depformerPatch.ts"
import { LmWeightsError } from "../errors.ts"

/**
 * Where graph weights come from:
 * - `inline`: read and widened to f32 in memory, stored inside the model (small models, tests);
 * - `external`: referenced in place inside the `.safetensors` file as ONNX external data (no JS
 *   copy; onnxruntime maps the file). Quantized linears are still read and quantized at build time.
 */
export type WeightStorage = "inline" | "external"

/** A tensor's data: in memory as f32, or a (possibly sliced) region of the checkpoint file. */
export type WeightSource = { readonly data: Float32Array } | { readonly tensor: TensorInfo }

/** A PyTorch-layout linear weight `[out, in]`. */
export interface LinearWeight {
  readonly name: string
  readonly out: number
  readonly in: number
  readonly source: WeightSource
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 }

/**
 * Reads LM tensors from a checkpoint, applying upstream's loader patches (upstream-spec §3.9): an
 * 8-step depformer checkpoint serves steps 8..15 from steps 0..7.
 */
export class LmWeights {
  private readonly cache = new Map<string, Float32Array>()
  private readonly checkpoint: Checkpoint
  readonly storage: WeightStorage

  constructor(checkpoint: Checkpoint, storage: WeightStorage = "inline") {
    this.checkpoint = checkpoint
    this.storage = storage
  }

  private fail(tensor: string, reason: string): never {
    throw new LmWeightsError({ checkpoint: this.checkpoint.source, tensor, reason })
  }

  private info(name: string): TensorInfo {
    const info = this.checkpoint.infoSync(this.resolve(name))
    if (DTYPE_BYTES[info.dtype] === undefined)
      this.fail(name, `dtype ${info.dtype}; F32, F16 or BF16 expected`)
    return info
  }

  private checkShape(name: string, info: TensorInfo, shape: ReadonlyArray<number>) {
    const numel = (s: ReadonlyArray<number>) => s.reduce((a, b) => a * b, 1)
    if (numel(info.shape) !== numel(shape))
      this.fail(name, `expected shape [${shape}], found [${info.shape}]`)
  }

  /** Small tensors (norm scales) always in memory as f32. Throws `LmWeightsError`. */
  tensor(name: string, shape: ReadonlyArray<number>): Float32Array {
    const info = this.info(name)
    this.checkShape(name, info, shape)
    return this.read(info.name)
  }

  /** An embedding table `[rows, dim]`, in memory or in place. */
  table(name: string, rows: number, dim: number): WeightSource {
    const info = this.info(name)
    this.checkShape(name, info, [rows, dim])
    return this.storage === "external"
      ? { tensor: { ...info, shape: [rows, dim] } }
      : { data: this.read(info.name) }
  }

  /** A linear weight; with `step`, rows `[k·out, (k+1)·out)` of a per-step stacked projection. */
  linear(
    name: string,
    out: number,
    inFeatures: number,
    step?: { readonly index: number; readonly steps: number },
  ): LinearWeight {
    const info = this.info(name)
    if (info.shape[info.shape.length - 1] !== inFeatures)
      this.fail(name, `expected ${inFeatures} input features, found shape [${info.shape}]`)
    const rows = info.shape.reduce((a, b) => a * b, 1) / inFeatures
    let k = 0
    if (!step) {
      if (rows !== out) this.fail(name, `expected shape [${out}, ${inFeatures}], found [${info.shape}]`)
    } else {
      // Stacked per-step rows: a checkpoint with fewer steps repeats them (upstream's concatenation patch).
      const stored = stackedStep(rows, out, step.steps, step.index)
      if (stored === undefined)
        this.fail(name, `expected ${step.steps} (or 8) steps of ${out} rows, found shape [${info.shape}]`)
      k = stored
    }
    const label = step ? `${name}[step ${step.index}]` : name
    const bytes = out * inFeatures * DTYPE_BYTES[info.dtype]!
    if (this.storage === "external")
      return {
        name: label,
        out,
        in: inFeatures,
        source: {
          tensor: {
            ...info,
            shape: [out, inFeatures],
            byteOffset: info.byteOffset + k * bytes,
            byteLength: bytes,
          },
        },
      }
    const data = this.read(info.name).subarray(k * out * inFeatures, (k + 1) * out * inFeatures)
    return { name: label, out, in: inFeatures, source: { data } }
  }

  private resolve(name: string): string {
    return (
      resolveDepformerTensor((n) => this.checkpoint.has(n), name) ??
      this.fail(name, "missing from the checkpoint")
    )
  }

  private read(name: string): Float32Array {
    let data = this.cache.get(name)
    if (!data) {
      data = this.checkpoint.float32Sync(name).data
      this.cache.set(name, data)
    }
    return data
  }

  /** Drop the f32 copies once the graphs hold the weights. */
  clear(): void {
    this.cache.clear()
  }
}
