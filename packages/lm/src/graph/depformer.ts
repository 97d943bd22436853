import { GraphBuilder } from "@personaplex/runtime"
import type { LmConfig } from "../LmConfig.ts"
import { Layers } from "./layers.ts"
import type { Quantization } from "./quantize.ts"
import type { LmWeights } from "./weights.ts"

export interface DepformerGraphOptions {
  /** 16 = upstream (agent + user codebooks); 8 = agent only (the user half is always teacher-forced, §3.9). */
  readonly steps: number
  readonly quantization: Quantization
  /** At step 15 upstream's 16-slot ring hides the key of step 0 (upstream-spec §3.5). */
  readonly upstreamRingQuirk: boolean
}

export const DepformerIo = {
  hidden: "hidden",
  text: "text",
  forced: "forced",
  forcedMask: "forced_mask",
  noise: "noise",
  temperature: "temperature",
  topK: "top_k",
  tokens: "tokens",
  logits: "logits",
} as const

/**
 * The whole depformer loop of one frame (upstream-spec §3.7), unrolled: step k uses its own
 * weight slices, is conditioned on the previous step's token (forced when provided, else
 * sampled), attends causally over this frame's earlier steps, and samples in-graph.
 */
export const buildDepformerGraph = (
  config: LmConfig,
  weights: LmWeights,
  options: DepformerGraphOptions,
): GraphBuilder => {
  const g = new GraphBuilder("moshi_depformer", 21)
  const L = new Layers(g, options.quantization)
  const {
    dim,
    card,
    textCard,
    depformerDim: D,
    depformerNumHeads: heads,
    depformerNumLayers: layers,
    depQ,
  } = config
  const headDim = D / heads
  const S = options.steps

  const hidden = g.input(DepformerIo.hidden, "float32", [1, dim])
  const text = g.input(DepformerIo.text, "int64", [1])
  const forced = g.input(DepformerIo.forced, "int64", [S])
  const forcedMask = g.input(DepformerIo.forcedMask, "bool", [S])
  const noise = g.input(DepformerIo.noise, "float32", [S, card])
  const temperature = g.input(DepformerIo.temperature, "float32", [1])
  const topK = g.input(DepformerIo.topK, "int64", [1])

  const at = (value: string, k: number) =>
    g.op("Slice", [value, g.int64s([k]), g.int64s([k + 1]), g.int64s([0])])
  const norms = Array.from({ length: layers }, (_, l) => ({
    n1: weights.tensor(`depformer.layers.${l}.norm1.alpha`, [1, 1, D]),
    n2: weights.tensor(`depformer.layers.${l}.norm2.alpha`, [1, 1, D]),
  }))
  const keys: string[][] = Array.from({ length: layers }, () => [])
  const values: string[][] = Array.from({ length: layers }, () => [])
  const sampled: string[] = []
  const logits: string[] = []

  let prev = text
  for (let k = 0; k < S; k++) {
    const step = { index: k, steps: depQ }
    const table =
      k === 0
        ? L.table(
            "dep_text_emb",
            textCard + 1,
            D,
            weights.table("depformer_text_emb.weight", textCard + 1, D),
          )
        : L.table(
            `dep_emb_${k - 1}`,
            card + 1,
            D,
            weights.table(`depformer_emb.${k - 1}.weight`, card + 1, D),
          )
    let x = g.op("Add", [
      L.linear(hidden, weights.linear(`depformer_in.${k}.weight`, D, dim)),
      L.embed(table, prev),
    ])
    for (let l = 0; l < layers; l++) {
      const p = `depformer.layers.${l}`
      const a = L.rmsNorm(x, norms[l]!.n1)
      const qkv = L.linear(a, weights.linear(`${p}.self_attn.in_proj_weight`, 3 * D, D, step))
      keys[l]!.push(L.columns(qkv, D, 2 * D))
      values[l]!.push(L.columns(qkv, 2 * D, 3 * D))
      // Upstream's ring of capacity 16 hides slot 0 once 16 keys are written.
      const from = options.upstreamRingQuirk && k === 15 ? 1 : 0
      const ks = keys[l]!.slice(from)
      const vs = values[l]!.slice(from)
      const kAll = ks.length === 1 ? ks[0]! : g.op("Concat", ks, { axis: 0 })
      const vAll = vs.length === 1 ? vs[0]! : g.op("Concat", vs, { axis: 0 })
      const q = g.op("Reshape", [L.columns(qkv, 0, D), g.int64s([heads, 1, headDim])])
      const attn = L.attend(q, kAll, vAll, ks.length, heads, headDim)
      x = g.op("Add", [x, L.linear(attn, weights.linear(`${p}.self_attn.out_proj.weight`, D, D, step))])
      const b = L.rmsNorm(x, norms[l]!.n2)
      const ffn = L.gatedFfn(
        b,
        weights.linear(`${p}.gating.${k}.linear_in.weight`, 2 * config.depformerFfnHidden, D),
        weights.linear(`${p}.gating.${k}.linear_out.weight`, D, config.depformerFfnHidden),
      )
      x = g.op("Add", [x, ffn])
    }
    const stepLogits = L.linear(x, weights.linear(`linears.${k}.weight`, card, D))
    const token = L.sample(stepLogits, g.op("Reshape", [at(noise, k), g.int64s([-1])]), temperature, topK)
    logits.push(stepLogits)
    sampled.push(token)
    prev = g.op("Where", [at(forcedMask, k), at(forced, k), token])
  }
  g.output(
    sampled.length === 1 ? sampled[0]! : g.op("Concat", sampled, { axis: 0 }),
    DepformerIo.tokens,
    "int64",
    [S],
  )
  g.output(
    logits.length === 1 ? logits[0]! : g.op("Concat", logits, { axis: 0 }),
    DepformerIo.logits,
    "float32",
    [S, card],
  )
  return g
}
