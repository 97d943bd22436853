import * as fs from "node:fs"
import * as path from "node:path"
import { CONTEXT_CHOICES, QUANT_BLOCK } from "@personaplex/lm"
import {
  Checkpoint,
  DTYPE_BYTES,
  type DType,
  SafetensorsFormatError,
  SHARD_INDEX,
} from "@personaplex/runtime"
import { Effect } from "effect"
import { formatBytes } from "../hub/progress.ts"
import { type DepformerPatchReport, patchDepformerStepsSync } from "./depformerPatch.ts"
import {
  detectModel,
  type LmArchitecture,
  type MimiArchitecture,
  type ModelKind,
  modelKindLabel,
} from "./detect.ts"

const SCALE_BYTES = 4

export interface DtypeCount {
  readonly dtype: DType
  readonly tensors: number
  readonly parameters: number
  readonly bytes: number
}

export type Quantization = "fp32" | "bf16/fp16" | "int8" | "int4"

export interface MemoryEstimate {
  readonly quantization: Quantization
  /** Weight bytes once loaded that way (matrices quantized, embeddings/norms/convs kept 16-bit). */
  readonly bytes: number
}

export interface KvCacheEstimate {
  readonly context: number
  readonly seconds: number
  readonly bf16Bytes: number
  readonly fp32Bytes: number
}

export interface CheckpointSummary {
  readonly path: string
  readonly fileBytes: number
  readonly tensorCount: number
  readonly parameters: number
  readonly dtypes: ReadonlyArray<DtypeCount>
  readonly model: ModelKind
  /** Why the model was (not) recognised. */
  readonly reason: string
  readonly lm?: LmArchitecture & { readonly depformer: DepformerPatchReport }
  readonly mimi?: MimiArchitecture
  readonly memory: ReadonlyArray<MemoryEstimate>
  /** Temporal-transformer KV cache per context (LM only). */
  readonly kvCache: ReadonlyArray<KvCacheEstimate>
  readonly tensors: ReadonlyArray<{
    readonly name: string
    readonly dtype: DType
    readonly shape: ReadonlyArray<number>
  }>
}

const EMBEDDING = /(^|\.)(emb|text_emb|depformer_emb|depformer_text_emb)(\.\d+)?\.weight$/

/** A matrix a weight-only quantizer would pack: 2-D, not an embedding table, rows a multiple of the block. */
const isQuantizable = (name: string, shape: ReadonlyArray<number>) =>
  shape.length === 2 && !EMBEDDING.test(name) && shape[1]! % QUANT_BLOCK === 0

const elementCount = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

const memoryEstimates = (tensors: CheckpointSummary["tensors"]): ReadonlyArray<MemoryEstimate> => {
  let matrix = 0
  let other = 0
  for (const t of tensors) {
    if (isQuantizable(t.name, t.shape)) matrix += elementCount(t.shape)
    else other += elementCount(t.shape)
  }
  const packed = (bits: number) => (matrix * bits) / 8 + (matrix / QUANT_BLOCK) * SCALE_BYTES + other * 2
  return [
    { quantization: "fp32", bytes: (matrix + other) * 4 },
    { quantization: "bf16/fp16", bytes: (matrix + other) * 2 },
    { quantization: "int8", bytes: packed(8) },
    { quantization: "int4", bytes: packed(4) },
  ]
}

const kvCacheEstimates = (lm: LmArchitecture): ReadonlyArray<KvCacheEstimate> =>
  CONTEXT_CHOICES.map((context) => {
    const elements = lm.numLayers * 2 * lm.dim * context
    return { context, seconds: context / 12.5, bf16Bytes: elements * 2, fp32Bytes: elements * 4 }
  })

const summarise = (checkpoint: Checkpoint, location: string): CheckpointSummary => {
  const tensors = checkpoint.names.map((name) => {
    const info = checkpoint.infoSync(name)
    return { name, dtype: info.dtype, shape: info.shape }
  })
  const byDtype = new Map<DType, { tensors: number; parameters: number }>()
  let parameters = 0
  for (const t of tensors) {
    const n = elementCount(t.shape)
    parameters += n
    const entry = byDtype.get(t.dtype) ?? { tensors: 0, parameters: 0 }
    byDtype.set(t.dtype, { tensors: entry.tensors + 1, parameters: entry.parameters + n })
  }
  const files = new Set(checkpoint.names.map((n) => checkpoint.infoSync(n).path))
  const fileBytes = [...files].reduce((sum, f) => sum + fs.statSync(f).size, 0)
  const detection = detectModel(checkpoint)
  const lm = detection.lm
    ? { ...detection.lm, depformer: patchDepformerStepsSync(checkpoint).report }
    : undefined
  return {
    path: location,
    fileBytes,
    tensorCount: tensors.length,
    parameters,
    dtypes: [...byDtype].map(([dtype, c]) => ({ dtype, ...c, bytes: c.parameters * DTYPE_BYTES[dtype] })),
    model: detection.kind,
    reason: detection.reason,
    ...(lm ? { lm } : {}),
    ...(detection.mimi ? { mimi: detection.mimi } : {}),
    memory: memoryEstimates(tensors),
    kvCache: lm ? kvCacheEstimates(lm) : [],
    tensors,
  }
}

/** The checkpoints at `location`: a file, a shard index, or every `.safetensors` file of a folder. */
const checkpointLocations = (location: string): ReadonlyArray<string> => {
  if (!fs.existsSync(location))
    throw new SafetensorsFormatError({ path: location, reason: "no such file or folder" })
  if (!fs.statSync(location).isDirectory()) return [location]
  if (fs.existsSync(path.join(location, SHARD_INDEX))) return [path.join(location, SHARD_INDEX)]
  const files = fs
    .readdirSync(location)
    .filter((f) => f.endsWith(".safetensors"))
    .sort()
  if (files.length === 0)
    throw new SafetensorsFormatError({ path: location, reason: "folder holds no .safetensors file" })
  return files.map((f) => path.join(location, f))
}

/**
 * Summarises a checkpoint file or every checkpoint in a folder: tensors, dtypes, which model it
 * is (Moshi LM / Mimi / unknown), the depformer layout, parameter counts, weight memory per
 * quantization and the KV cache per context. Reads headers only.
 */
export const inspectCheckpoints = (
  location: string,
): Effect.Effect<ReadonlyArray<CheckpointSummary>, SafetensorsFormatError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const locations = yield* Effect.try({
        try: () => checkpointLocations(location),
        catch: (error) =>
          error instanceof SafetensorsFormatError
            ? error
            : new SafetensorsFormatError({ path: location, reason: String(error) }),
      })
      const summaries: CheckpointSummary[] = []
      for (const file of locations) {
        const checkpoint = yield* Checkpoint.open(file)
        summaries.push(
          yield* Effect.try({
            try: () => summarise(checkpoint, file),
            catch: (error) => new SafetensorsFormatError({ path: file, reason: (error as Error).message }),
          }),
        )
      }
      return summaries
    }),
  )

const count = (n: number) => n.toLocaleString("en-US")

export interface RenderOptions {
  /** List every tensor with dtype and shape. */
  readonly tensors?: boolean
}

/** Plain-text report of `inspectCheckpoints` for the terminal. */
export const renderInspection = (
  summaries: ReadonlyArray<CheckpointSummary>,
  options: RenderOptions = {},
): string => {
  const lines: string[] = []
  for (const s of summaries) {
    lines.push(`${s.path}`)
    lines.push(`  model       ${modelKindLabel(s.model)} (${s.reason})`)
    lines.push(
      `  file        ${formatBytes(s.fileBytes)}, ${count(s.tensorCount)} tensors, ${count(s.parameters)} parameters`,
    )
    lines.push(
      `  dtypes      ${s.dtypes.map((d) => `${d.dtype} ${count(d.tensors)} tensors / ${count(d.parameters)} values`).join("; ")}`,
    )
    if (s.lm) {
      const lm = s.lm
      lines.push(
        `  temporal    dim ${lm.dim}, ${lm.numLayers} layers, text vocabulary ${lm.textCard}, audio vocabulary ${lm.card}, ${lm.audioStreams} audio streams`,
      )
      lines.push(`  depformer   dim ${lm.depformerDim}, ${lm.depformerLayers} layers`)
      const d = lm.depformer
      const patched =
        d.expanded.length + d.copied.length === 0
          ? "no patch needed"
          : `patched to ${d.steps} steps: ${d.expanded.length} attention projections repeated, ${d.copied.length} per-step tensors copied from step n-8`
      lines.push(
        `  layout      ${d.layout} (stored: attention ${d.stored.selfAttentionSteps} steps, per-step modules ${d.stored.perStepModuleSteps}); ${patched}`,
      )
      if (d.missing.length > 0) lines.push(`  missing     ${d.missing.join(", ")}`)
    }
    if (s.mimi)
      lines.push(
        `  codec       ${s.mimi.storedCodebooks} codebooks stored (8 used), transformers ${s.mimi.encoderTransformerLayers}+${s.mimi.decoderTransformerLayers} layers`,
      )
    lines.push(`  weights     ${s.memory.map((m) => `${m.quantization} ${formatBytes(m.bytes)}`).join(", ")}`)
    if (s.kvCache.length > 0) {
      lines.push("  KV cache    context  seconds       bf16       fp32")
      for (const kv of s.kvCache)
        lines.push(
          `              ${String(kv.context).padStart(7)}  ${kv.seconds.toFixed(1).padStart(7)}  ${formatBytes(kv.bf16Bytes).padStart(9)}  ${formatBytes(kv.fp32Bytes).padStart(9)}`,
        )
    }
    if (options.tensors)
      for (const t of s.tensors) lines.push(`    ${t.name}  ${t.dtype} [${t.shape.join(", ")}]`)
    lines.push("")
  }
  return lines.join("\n")
}
