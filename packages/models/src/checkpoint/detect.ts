import type { Checkpoint } from "@personaplex/runtime"

export type ModelKind = "moshi-lm" | "mimi" | "unknown"

/** The Moshi LM's sizes as read from tensor shapes (upstream-spec §3.1, §3.8). */
export interface LmArchitecture {
  readonly dim: number
  readonly numLayers: number
  readonly textCard: number
  readonly card: number
  /** Audio input streams (`emb.N`): 16 = 8 agent + 8 user codebooks. */
  readonly audioStreams: number
  readonly depformerDim: number
  readonly depformerLayers: number
  /** Depformer steps the stored self-attention projections cover (8 or 16). */
  readonly selfAttentionSteps: number
  /** Depformer steps that have their own `linears.N` / `depformer_in.N` / gating modules. */
  readonly perStepModuleSteps: number
}

export interface MimiArchitecture {
  /** Codebooks stored (1 in rvq_first + N in rvq_rest); PersonaPlex uses 8 of them. */
  readonly storedCodebooks: number
  readonly encoderTransformerLayers: number
  readonly decoderTransformerLayers: number
}

export interface Detection {
  readonly kind: ModelKind
  /** Why: the marker tensors found or missing. */
  readonly reason: string
  readonly lm?: LmArchitecture
  readonly mimi?: MimiArchitecture
}

export const LM_MARKERS = [
  "text_emb.weight",
  "emb.0.weight",
  "transformer.layers.0.self_attn.in_proj_weight",
  "text_linear.weight",
]
export const MIMI_MARKERS = [
  "encoder.model.0.conv.conv.weight",
  "decoder.model.0.conv.conv.weight",
  "quantizer.rvq_first.vq.layers.0._codebook.embedding_sum",
]

/** What detection reads: tensor names and header entries (a `Checkpoint` has them). */
export type CheckpointHeaders = Pick<Checkpoint, "names" | "has" | "infoSync">

/** Distinct values of the first number after `prefix` in tensor names, e.g. layer indices. */
export const indicesAfter = (names: ReadonlyArray<string>, prefix: string): ReadonlyArray<number> => {
  const found = new Set<number>()
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const match = /^(\d+)\./.exec(name.slice(prefix.length))
    if (match) found.add(Number(match[1]))
  }
  return [...found].sort((a, b) => a - b)
}

const shape = (ckpt: CheckpointHeaders, name: string) =>
  ckpt.has(name) ? ckpt.infoSync(name).shape : undefined

const lmArchitecture = (ckpt: CheckpointHeaders): LmArchitecture => {
  const names = ckpt.names
  const textEmb = shape(ckpt, "text_emb.weight")!
  const emb0 = shape(ckpt, "emb.0.weight")!
  const depformerDim =
    shape(ckpt, "depformer_text_emb.weight")?.[1] ?? shape(ckpt, "depformer_in.0.weight")?.[0] ?? 0
  const inProj = shape(ckpt, "depformer.layers.0.self_attn.in_proj_weight")
  return {
    dim: textEmb[1]!,
    numLayers: indicesAfter(names, "transformer.layers.").length,
    textCard: textEmb[0]! - 1,
    card: emb0[0]! - 1,
    audioStreams: indicesAfter(names, "emb.").length,
    depformerDim,
    depformerLayers: indicesAfter(names, "depformer.layers.").length,
    selfAttentionSteps: inProj && depformerDim > 0 ? inProj[0]! / (3 * depformerDim) : 0,
    perStepModuleSteps: indicesAfter(names, "linears.").length,
  }
}

/** Tells a Moshi LM from a Mimi codec (or neither) by the tensors upstream's loaders require. */
export const detectModel = (ckpt: CheckpointHeaders): Detection => {
  const lmFound = LM_MARKERS.filter((n) => ckpt.has(n))
  const mimiFound = MIMI_MARKERS.filter((n) => ckpt.has(n))
  if (lmFound.length === LM_MARKERS.length)
    return { kind: "moshi-lm", reason: `has ${LM_MARKERS.join(", ")}`, lm: lmArchitecture(ckpt) }
  if (mimiFound.length === MIMI_MARKERS.length) {
    const names = ckpt.names
    return {
      kind: "mimi",
      reason: `has ${MIMI_MARKERS.join(", ")}`,
      mimi: {
        storedCodebooks: 1 + indicesAfter(names, "quantizer.rvq_rest.vq.layers.").length,
        encoderTransformerLayers: indicesAfter(names, "encoder_transformer.transformer.layers.").length,
        decoderTransformerLayers: indicesAfter(names, "decoder_transformer.transformer.layers.").length,
      },
    }
  }
  const best =
    lmFound.length >= mimiFound.length
      ? { markers: LM_MARKERS, found: lmFound }
      : { markers: MIMI_MARKERS, found: mimiFound }
  const missing = best.markers.filter((n) => !best.found.includes(n))
  return {
    kind: "unknown",
    reason:
      lmFound.length + mimiFound.length === 0
        ? `none of the marker tensors of a Moshi LM (${LM_MARKERS.join(", ")}) or a Mimi codec (${MIMI_MARKERS.join(", ")})`
        : `lacks ${missing.join(", ")}`,
  }
}

export const modelKindLabel = (kind: ModelKind): string =>
  kind === "moshi-lm" ? "Moshi LM" : kind === "mimi" ? "Mimi codec" : "unknown model"
