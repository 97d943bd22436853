import type { LmConfig } from "./LmConfig.ts"

/** One tensor of an upstream Moshi LM checkpoint: name and PyTorch shape. */
export interface LmTensorShape {
  readonly name: string
  readonly shape: ReadonlyArray<number>
}

/**
 * The LM tensor list of upstream-spec §3.8 for a config, in the 16-step depformer layout
 * (`depQ` steps of per-step weights). For `LmConfig.personaplex` it has 8,371,408,896 values.
 */
export const lmCheckpointTensors = (config: LmConfig): LmTensorShape[] => {
  const { dim, textCard, card, nQ, depQ, depformerDim: D } = config
  const t: LmTensorShape[] = [
    { name: "text_emb.weight", shape: [textCard + 1, dim] },
    { name: "text_linear.weight", shape: [textCard, dim] },
    { name: "out_norm.alpha", shape: [1, 1, dim] },
    { name: "depformer_text_emb.weight", shape: [textCard + 1, D] },
  ]
  for (let k = 0; k < nQ; k++) t.push({ name: `emb.${k}.weight`, shape: [card + 1, dim] })
  for (let k = 0; k < depQ; k++)
    t.push(
      { name: `depformer_in.${k}.weight`, shape: [D, dim] },
      { name: `linears.${k}.weight`, shape: [card, D] },
    )
  for (let k = 0; k < depQ - 1; k++) t.push({ name: `depformer_emb.${k}.weight`, shape: [card + 1, D] })
  for (let l = 0; l < config.numLayers; l++) {
    const p = `transformer.layers.${l}`
    t.push(
      { name: `${p}.self_attn.in_proj_weight`, shape: [3 * dim, dim] },
      { name: `${p}.self_attn.out_proj.weight`, shape: [dim, dim] },
      { name: `${p}.norm1.alpha`, shape: [1, 1, dim] },
      { name: `${p}.norm2.alpha`, shape: [1, 1, dim] },
      { name: `${p}.gating.linear_in.weight`, shape: [2 * config.ffnHidden, dim] },
      { name: `${p}.gating.linear_out.weight`, shape: [dim, config.ffnHidden] },
    )
  }
  for (let l = 0; l < config.depformerNumLayers; l++) {
    const p = `depformer.layers.${l}`
    t.push(
      { name: `${p}.self_attn.in_proj_weight`, shape: [depQ * 3 * D, D] },
      { name: `${p}.self_attn.out_proj.weight`, shape: [depQ * D, D] },
      { name: `${p}.norm1.alpha`, shape: [1, 1, D] },
      { name: `${p}.norm2.alpha`, shape: [1, 1, D] },
    )
    for (let s = 0; s < depQ; s++)
      t.push(
        { name: `${p}.gating.${s}.linear_in.weight`, shape: [2 * config.depformerFfnHidden, D] },
        { name: `${p}.gating.${s}.linear_out.weight`, shape: [D, config.depformerFfnHidden] },
      )
  }
  return t
}

export const numel = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

export const parameterCount = (tensors: ReadonlyArray<LmTensorShape>): number =>
  tensors.reduce((sum, t) => sum + numel(t.shape), 0)
