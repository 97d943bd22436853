import { float32ToBf16, type TensorToWrite, writeSafetensors } from "@personaplex/runtime"

/** Deterministic bf16 values whose bytes differ per tensor and row, so copies can be told apart. */
const bf16 = (name: string, shape: ReadonlyArray<number>): TensorToWrite => {
  const n = shape.reduce((a, b) => a * b, 1)
  let seed = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)
  const values = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    values[i] = (seed / 2 ** 32) * 2 - 1
  }
  return { name, dtype: "BF16", shape, data: float32ToBf16(values) }
}

/**
 * A Moshi-LM-shaped checkpoint with tiny widths: `steps` = 8 writes the older layout
 * (self-attention for 8 depformer steps, per-step modules 0..7, depformer_emb 0..6).
 */
export const writeTinyLm = (
  file: string,
  steps: 8 | 16,
  dims = { dim: 16, depformerDim: 8, layers: 1, depformerLayers: 2 },
) => {
  const { dim, depformerDim: dd, layers, depformerLayers } = dims
  const tensors: TensorToWrite[] = [
    bf16("text_emb.weight", [33, dim]),
    bf16("text_linear.weight", [32, dim]),
    bf16("out_norm.alpha", [1, 1, dim]),
  ]
  for (let k = 0; k < 16; k++) tensors.push(bf16(`emb.${k}.weight`, [17, dim]))
  for (let l = 0; l < layers; l++) {
    tensors.push(bf16(`transformer.layers.${l}.self_attn.in_proj_weight`, [3 * dim, dim]))
    tensors.push(bf16(`transformer.layers.${l}.self_attn.out_proj.weight`, [dim, dim]))
    tensors.push(bf16(`transformer.layers.${l}.gating.linear_in.weight`, [4 * dim, dim]))
    tensors.push(bf16(`transformer.layers.${l}.gating.linear_out.weight`, [dim, 2 * dim]))
  }
  tensors.push(bf16("depformer_text_emb.weight", [33, dd]))
  for (let s = 0; s < steps; s++) {
    tensors.push(bf16(`depformer_in.${s}.weight`, [dd, dim]), bf16(`linears.${s}.weight`, [16, dd]))
    if (s < steps - 1) tensors.push(bf16(`depformer_emb.${s}.weight`, [17, dd]))
  }
  for (let d = 0; d < depformerLayers; d++) {
    tensors.push(bf16(`depformer.layers.${d}.self_attn.in_proj_weight`, [steps * 3 * dd, dd]))
    tensors.push(bf16(`depformer.layers.${d}.self_attn.out_proj.weight`, [steps * dd, dd]))
    for (let s = 0; s < steps; s++) {
      tensors.push(bf16(`depformer.layers.${d}.gating.${s}.linear_in.weight`, [4 * dd, dd]))
      tensors.push(bf16(`depformer.layers.${d}.gating.${s}.linear_out.weight`, [dd, 2 * dd]))
    }
  }
  writeSafetensors(file, tensors)
}

/** A Mimi-shaped checkpoint: only the marker tensors and a few more, tiny widths. */
export const writeTinyMimi = (file: string) =>
  writeSafetensors(file, [
    bf16("encoder.model.0.conv.conv.weight", [4, 1, 7]),
    bf16("decoder.model.0.conv.conv.weight", [8, 4, 7]),
    bf16("quantizer.rvq_first.vq.layers.0._codebook.embedding_sum", [16, 4]),
    bf16("quantizer.rvq_rest.vq.layers.0._codebook.embedding_sum", [16, 4]),
    bf16("encoder_transformer.transformer.layers.0.linear1.weight", [8, 4]),
    bf16("decoder_transformer.transformer.layers.0.linear1.weight", [8, 4]),
  ])

/** A safetensors file of something else entirely. */
export const writeUnrelatedCheckpoint = (file: string) =>
  writeSafetensors(file, [bf16("model.embed_tokens.weight", [8, 4]), bf16("lm_head.weight", [8, 4])])
