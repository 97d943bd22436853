import { eightStepSource } from "@personaplex/lm"
import {
  type Checkpoint,
  DTYPE_BYTES,
  type DType,
  MissingTensorError,
  type Tensor,
  type TensorInfo,
  toFloat32,
  viewAs,
} from "@personaplex/runtime"
import { Effect } from "effect"
import { WrongModelError } from "../errors.ts"
import { detectModel, type LmArchitecture } from "./detect.ts"

/** PersonaPlex instantiates the LM with dep_q = 16 depformer steps (upstream-spec §3.1). */
export const DEPFORMER_STEPS = 16

/** A byte range of a file: what ONNX external data can point at. */
export interface TensorSegment {
  readonly path: string
  readonly byteOffset: number
  readonly byteLength: number
}

/** How a tensor of the view is made from the stored ones. */
export type TensorOrigin =
  | { readonly _tag: "Stored" }
  | { readonly _tag: "Repeated"; readonly from: string; readonly times: number }
  | { readonly _tag: "Copied"; readonly from: string }

export interface ViewTensorInfo {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly origin: TensorOrigin
  /** The bytes of the tensor, in order (a repeated tensor lists its source range several times). */
  readonly segments: ReadonlyArray<TensorSegment>
}

export interface DepformerPatchReport {
  /** What the file stores: 8 (older Moshi layout) or 16 depformer steps, for attention and per-step modules. */
  readonly stored: { readonly selfAttentionSteps: number; readonly perStepModuleSteps: number }
  readonly layout: "8-step" | "16-step" | "mixed"
  readonly steps: number
  /** Self-attention projections concatenated with themselves along dim 0 (steps 8..15 = 0..7). */
  readonly expanded: ReadonlyArray<string>
  /** Per-step tensors copied from step n-8. */
  readonly copied: ReadonlyArray<{ readonly name: string; readonly from: string }>
  /** Tensors the 16-step model needs that neither the file nor the patches provide. */
  readonly missing: ReadonlyArray<string>
}

const elementCount = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

const segmentOf = (info: TensorInfo): TensorSegment => ({
  path: info.path,
  byteOffset: info.byteOffset,
  byteLength: info.byteLength,
})

/**
 * A checkpoint as the 16-step model sees it after upstream's loader patches, without copying data:
 * patched tensors are described by byte segments of the stored ones and materialised only on read.
 */
export class CheckpointView {
  constructor(
    readonly checkpoint: Checkpoint,
    private readonly tensors: ReadonlyMap<string, ViewTensorInfo>,
    readonly report: DepformerPatchReport,
  ) {}

  get names(): ReadonlyArray<string> {
    return [...this.tensors.keys()]
  }

  has(name: string): boolean {
    return this.tensors.has(name)
  }

  info(name: string): ViewTensorInfo {
    const info = this.tensors.get(name)
    if (!info) throw new MissingTensorError({ tensor: name, path: this.checkpoint.source })
    return info
  }

  /** Segments holding rows [start, end) of dim 0: e.g. the attention rows of one depformer step. */
  rowSegments(name: string, start: number, end: number): ReadonlyArray<TensorSegment> {
    const info = this.info(name)
    const rowBytes = (elementCount(info.shape) / info.shape[0]!) * DTYPE_BYTES[info.dtype]
    let from = start * rowBytes
    let length = (end - start) * rowBytes
    const out: TensorSegment[] = []
    for (const segment of info.segments) {
      if (length === 0) break
      if (from >= segment.byteLength) {
        from -= segment.byteLength
        continue
      }
      const take = Math.min(segment.byteLength - from, length)
      out.push({ path: segment.path, byteOffset: segment.byteOffset + from, byteLength: take })
      length -= take
      from = 0
    }
    if (length > 0) throw new RangeError(`rows [${start}, ${end}) are outside "${name}" [${info.shape}]`)
    return out
  }

  /** Raw bytes in the stored dtype, patched tensors materialised. */
  bytesSync(name: string): Uint8Array {
    const info = this.info(name)
    const source = info.origin._tag === "Stored" ? name : info.origin.from
    const stored = this.checkpoint.readSync(source).data
    const bytes = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength)
    if (info.origin._tag !== "Repeated") return bytes
    const out = new Uint8Array(bytes.length * info.origin.times)
    for (let i = 0; i < info.origin.times; i++) out.set(bytes, i * bytes.length)
    return out
  }

  readSync(name: string): Tensor {
    const info = this.info(name)
    return { name, shape: info.shape, data: viewAs(info.dtype, this.bytesSync(name)) }
  }

  float32Sync(name: string): Tensor<Float32Array> {
    const info = this.info(name)
    return { name, shape: info.shape, data: toFloat32(info.dtype, this.bytesSync(name)) }
  }
}

/** Names of the depformer's per-step tensors in the 16-step model. */
const perStepNames = (arch: LmArchitecture): ReadonlyArray<string> => {
  const names: string[] = []
  for (let s = 0; s < DEPFORMER_STEPS; s++) {
    names.push(`linears.${s}.weight`, `depformer_in.${s}.weight`)
    if (s > 0) names.push(`depformer_emb.${s - 1}.weight`)
    for (let d = 0; d < arch.depformerLayers; d++)
      names.push(
        `depformer.layers.${d}.gating.${s}.linear_in.weight`,
        `depformer.layers.${d}.gating.${s}.linear_out.weight`,
      )
  }
  return names
}

/** The view, or a thrown WrongModelError; see `patchDepformerSteps`. */
export const patchDepformerStepsSync = (checkpoint: Checkpoint): CheckpointView => {
  const detection = detectModel(checkpoint)
  if (detection.kind !== "moshi-lm" || !detection.lm)
    throw new WrongModelError({
      path: checkpoint.source,
      expected: "Moshi LM",
      detected: detection.kind,
      reason: detection.reason,
    })
  const arch = detection.lm
  const tensors = new Map<string, ViewTensorInfo>()
  const expanded: string[] = []
  for (const name of checkpoint.names) {
    const info = checkpoint.infoSync(name)
    const stored = {
      name,
      dtype: info.dtype,
      shape: info.shape,
      origin: { _tag: "Stored" } as const,
      segments: [segmentOf(info)],
    }
    const isAttention = name.includes("depformer") && name.includes("self_attn")
    const rowsPerStep = name.endsWith("in_proj_weight") ? 3 * arch.depformerDim : arch.depformerDim
    const expectedRows = DEPFORMER_STEPS * rowsPerStep
    if (!isAttention || info.shape[0] === expectedRows) {
      tensors.set(name, stored)
      continue
    }
    const rows = info.shape[0]!
    if (rows === 0 || expectedRows % rows !== 0)
      throw new WrongModelError({
        path: checkpoint.source,
        expected: "Moshi LM",
        detected: "a Moshi LM with an unexpected depformer",
        reason: `"${name}" has ${rows} rows, not a whole number of steps of ${rowsPerStep} (${DEPFORMER_STEPS} steps need ${expectedRows})`,
      })
    const times = expectedRows / rows
    tensors.set(name, {
      name,
      dtype: info.dtype,
      shape: [expectedRows, ...info.shape.slice(1)],
      origin: { _tag: "Repeated", from: name, times },
      segments: Array.from({ length: times }, () => segmentOf(info)),
    })
    expanded.push(name)
  }
  const copied: Array<{ name: string; from: string }> = []
  const missing: string[] = []
  for (const name of perStepNames(arch)) {
    if (tensors.has(name)) continue
    const from = eightStepSource(name)
    const source = from ? tensors.get(from) : undefined
    if (!from || !source || source.origin._tag !== "Stored") {
      missing.push(name)
      continue
    }
    tensors.set(name, { ...source, name, origin: { _tag: "Copied", from } })
    copied.push({ name, from })
  }
  const stored = { selfAttentionSteps: arch.selfAttentionSteps, perStepModuleSteps: arch.perStepModuleSteps }
  const layout =
    stored.selfAttentionSteps === 16 && stored.perStepModuleSteps === 16
      ? "16-step"
      : stored.selfAttentionSteps === 8 && stored.perStepModuleSteps === 8
        ? "8-step"
        : "mixed"
  return new CheckpointView(checkpoint, tensors, {
    stored,
    layout,
    steps: DEPFORMER_STEPS,
    expanded,
    copied,
    missing,
  })
}

/**
 * Applies upstream `get_moshi_lm`'s two weight patches (upstream-spec §3.9) as a view over the
 * checkpoint: depformer self-attention projections of an 8-step file are repeated to 16 steps, and
 * missing per-step modules n = 8..15 (`gating`, `linears`, `depformer_in`, `depformer_emb`) alias
 * step n-8. A 16-step file passes through unchanged. The report says which layout the file had.
 */
export const patchDepformerSteps = (checkpoint: Checkpoint): Effect.Effect<CheckpointView, WrongModelError> =>
  Effect.try({
    try: () => patchDepformerStepsSync(checkpoint),
    catch: (error) =>
      error instanceof WrongModelError
        ? error
        : new WrongModelError({
            path: checkpoint.source,
            expected: "Moshi LM",
            detected: "unreadable",
            reason: String(error),
          }),
  })
