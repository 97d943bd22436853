import { GraphBuilder } from "@personaplex/runtime"
import type { LmConfig } from "../LmConfig.ts"
import { Layers, ropeFrequencies } from "./layers.ts"
import type { Quantization } from "./quantize.ts"
import type { LmWeights } from "./weights.ts"

export interface TemporalGraphOptions {
  /** KV ring capacity = attention window in frames. */
  readonly context: number
  readonly quantization: Quantization
  /** Reproduce upstream's ring cache that hides the oldest slot once wrapped (upstream-spec §3.5). */
  readonly upstreamRingQuirk: boolean
}

/** Names of the temporal step graph's inputs and outputs. */
export const TemporalIo = {
  tokens: "tokens",
  extraEmbedding: "extra_embedding",
  position: "position",
  textNoise: "text_noise",
  textTemperature: "text_temperature",
  textTopK: "text_top_k",
  /** Layer's key ring `[heads, context, headDim]` (keys after RoPE) and value ring. */
  keys: (layer: number) => `keys_${layer}`,
  values: (layer: number) => `values_${layer}`,
  hidden: "hidden",
  textLogits: "text_logits",
  textToken: "text_token",
  embedding: "embedding",
  /** This step's key (after RoPE) and value, `[2, dim]`, to write at slot `position mod context`. */
  newKv: (layer: number) => `new_kv_${layer}`,
} as const

/**
 * One temporal-transformer step (upstream-spec §3.6): embed the 17 input tokens (id −1 embeds
 * to zero; `extra_embedding` is added, which replays stored voice-prompt embeddings), run the
 * layers attending over the per-layer KV rings `[heads, context, headDim]` plus this step's key
 * (returned as `new_kv_l`, for the caller to store at slot `position mod context`),
 * `out_norm`, the text head, and text sampling.
 */
export const buildTemporalGraph = (
  config: LmConfig,
  weights: LmWeights,
  options: TemporalGraphOptions,
): GraphBuilder => {
  const g = new GraphBuilder("moshi_temporal", 21)
  const L = new Layers(g, options.quantization)
  const { dim, numHeads: heads, card, textCard } = config
  const headDim = dim / heads
  const cap = options.context

  const tokens = g.input(TemporalIo.tokens, "int64", [17])
  const extra = g.input(TemporalIo.extraEmbedding, "float32", [1, dim])
  const position = g.input(TemporalIo.position, "int64", [1])
  const textNoise = g.input(TemporalIo.textNoise, "float32", [textCard])
  const textTemp = g.input(TemporalIo.textTemperature, "float32", [1])
  const textTopK = g.input(TemporalIo.textTopK, "int64", [1])

  const token = (k: number) => g.op("Slice", [tokens, g.int64s([k]), g.int64s([k + 1]), g.int64s([0])])
  // Summation order as upstream: audio tables 0..15, then text.
  let emb: string | undefined
  for (let k = 0; k < config.nQ; k++) {
    const table = L.table(`emb_${k}`, card + 1, dim, weights.table(`emb.${k}.weight`, card + 1, dim))
    const e = L.embed(table, token(k + 1))
    emb = emb ? g.op("Add", [emb, e]) : e
  }
  const textTable = L.table(
    "text_emb",
    textCard + 1,
    dim,
    weights.table("text_emb.weight", textCard + 1, dim),
  )
  const embedding = g.op("Add", [g.op("Add", [emb!, L.embed(textTable, token(0))]), extra])

  // RoPE angles at this position.
  const freqs = g.initializer("rope_freqs", {
    type: "float32",
    dims: [headDim / 2, 1],
    data: ropeFrequencies(headDim, config.maxPeriod),
  })
  const angle = g.op("Mul", [freqs, g.op("Cast", [position], { to: 1 })])
  const cos = g.op("Cos", [angle])
  const sin = g.op("Sin", [angle])

  // Which ring slots this query sees besides its own new key (upstream-spec §3.5): slots written
  // before this step, except the one being overwritten now, and with the quirk the oldest once wrapped.
  const capacity = g.scalar(cap, "int64")
  const slots = g.constant(
    "int64",
    [cap],
    Array.from({ length: cap }, (_, i) => BigInt(i)),
    "slots",
  )
  let visible = g.op("And", [
    g.op("Less", [slots, g.op("Min", [position, capacity])]),
    g.op("Not", [g.op("Equal", [slots, g.op("Mod", [position, capacity])])]),
  ])
  if (options.upstreamRingQuirk) {
    const end = g.op("Add", [position, g.scalar(1, "int64")])
    const wrapped = g.op("GreaterOrEqual", [end, capacity])
    const hidden = g.op("And", [wrapped, g.op("Equal", [slots, g.op("Mod", [end, capacity])])])
    visible = g.op("And", [visible, g.op("Not", [hidden])])
  }
  const mask = g.op("Reshape", [
    g.op("Concat", [visible, g.constant("bool", [1], [1], "own")], { axis: 0 }),
    g.int64s([cap + 1, 1]),
  ])

  let x = embedding
  for (let l = 0; l < config.numLayers; l++) {
    const p = `transformer.layers.${l}`
    const kCache = g.input(TemporalIo.keys(l), "float32", [heads, cap, headDim])
    const vCache = g.input(TemporalIo.values(l), "float32", [heads, cap, headDim])
    const a = L.rmsNorm(x, weights.tensor(`${p}.norm1.alpha`, [1, 1, dim]))
    const qkv = L.linear(a, weights.linear(`${p}.self_attn.in_proj_weight`, 3 * dim, dim))
    const q = L.rope(L.columns(qkv, 0, dim), heads, headDim, cos, sin)
    const k = g.op("Reshape", [
      L.rope(L.columns(qkv, dim, 2 * dim), heads, headDim, cos, sin),
      g.int64s([1, dim]),
    ])
    const v = L.columns(qkv, 2 * dim, 3 * dim)
    const kv = g.op("Concat", [k, v], { axis: 0 })
    g.output(kv, TemporalIo.newKv(l), "float32", [2, dim])
    const attn = L.attendRing(q, k, v, kCache, vCache, mask, cap, heads, headDim)
    x = g.op("Add", [x, L.linear(attn, weights.linear(`${p}.self_attn.out_proj.weight`, dim, dim))])
    const b = L.rmsNorm(x, weights.tensor(`${p}.norm2.alpha`, [1, 1, dim]))
    const ffn = L.gatedFfn(
      b,
      weights.linear(`${p}.gating.linear_in.weight`, 2 * config.ffnHidden, dim),
      weights.linear(`${p}.gating.linear_out.weight`, dim, config.ffnHidden),
    )
    x = g.op("Add", [x, ffn])
  }
  const hidden = L.rmsNorm(x, weights.tensor("out_norm.alpha", [1, 1, dim]))
  const textLogits = L.linear(hidden, weights.linear("text_linear.weight", textCard, dim))
  const textToken = L.sample(textLogits, textNoise, textTemp, textTopK)

  g.output(hidden, TemporalIo.hidden, "float32", [1, dim])
  g.output(textLogits, TemporalIo.textLogits, "float32", [1, textCard])
  g.output(textToken, TemporalIo.textToken, "int64", [1])
  g.output(embedding, TemporalIo.embedding, "float32", [1, dim])
  return g
}
