import type { LmConfig } from "../../LmConfig.ts"

/** How the GPU graphs store the LM's linear layers. */
export type GpuPrecision = "float32" | "float16" | "int8" | "int4"

/** Inputs per scale of the weight-only int8/int4 blocks (`MatMulNBits`, one f32 scale a block), both forms. */
export const QUANT_BLOCK = 32

/** A byte range of the converted-weights file. */
export interface Extent {
  readonly offset: number
  readonly length: number
}

/**
 * One converted tensor, made from rows `[rowOffset, rowOffset + rows)` of checkpoint tensor `source`
 * (BF16/F16/F32, `[.., cols]`):
 * - `linear`: float32 or float16 stored transposed `[cols(in), rows(out)]` for `MatMul`, or `MatMulNBits`
 *   blocks (`packed` uint8 `[rows, kBlocks, blob]`, `scales` f32 `[rows·kBlocks]`);
 * - `table`: an embedding table, float32 `[rows, cols]` (exact from BF16; the graph gathers rows
 *   straight into the float32 activations, no Cast);
 * - `vector`: float32 values (norm scales).
 */
export interface ConvertedTensor {
  readonly key: string
  readonly kind: "linear" | "table" | "vector"
  readonly source: string
  /** For rows of a per-step stacked projection: the depformer step (the checkpoint's stack decides which rows, §3.9). */
  readonly stackedStep?: number
  readonly rowOffset: number
  readonly rows: number
  readonly cols: number
  readonly data: Extent
  /** int8/int4 linears only. */
  readonly scales?: Extent
}

export interface WeightLayout {
  readonly precision: GpuPrecision
  readonly depformerSteps: number
  readonly bytes: number
  readonly tensors: Readonly<Record<string, ConvertedTensor>>
  /** Consecutive tables read as one (the temporal embeddings: audio 0..15 then text). */
  readonly groups: Readonly<Record<string, Extent & { readonly rows: number; readonly cols: number }>>
}

const ALIGN = 4096
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN

/** Bytes of a linear `[rows, cols]` in the given precision: data, then scales for int8/int4. */
const linearBytes = (rows: number, cols: number, precision: GpuPrecision) => {
  if (precision === "float32" || precision === "float16")
    return { data: rows * cols * (precision === "float32" ? 4 : 2), scales: 0 }
  const bits = precision === "int4" ? 4 : 8
  const kBlocks = Math.ceil(cols / QUANT_BLOCK)
  return { data: (rows * kBlocks * QUANT_BLOCK * bits) / 8, scales: rows * kBlocks * 4 }
}

/**
 * Where every weight the GPU step graph reads lies in the converted file, for `precision` and the
 * first `depformerSteps` depformer steps. Keys: `emb_all` (group), `t<l>.{norm1,norm2,qkv,out,ffn_gate,ffn_up,ffn_out}`,
 * `out_norm`, `text_linear`, `d.text_emb`, `d.emb<k>`, `d<k>.in`, `d<k>.head`, `d<l>.{norm1,norm2}`,
 * `d<l>.<k>.{qkv,out,ffn_gate,ffn_up,ffn_out}`. The gating's `linear_in` is two linears, its
 * first half of rows (the gate, through SiLU) and its second (the value): two `MatMulNBits` cost
 * less than one and a `Split` on the GPU.
 */
export const planLayout = (
  config: LmConfig,
  precision: GpuPrecision,
  depformerSteps: number,
): WeightLayout => {
  const tensors: Record<string, ConvertedTensor> = {}
  const groups: Record<string, Extent & { rows: number; cols: number }> = {}
  let offset = 0
  const add = (
    key: string,
    kind: ConvertedTensor["kind"],
    source: string,
    rows: number,
    cols: number,
    rowOffset = 0,
    packed = false,
    stackedStep?: number,
  ) => {
    let data: Extent
    let scales: Extent | undefined
    if (kind === "linear") {
      const b = linearBytes(rows, cols, precision)
      data = { offset, length: b.data }
      offset = align(offset + b.data)
      if (b.scales > 0) {
        scales = { offset, length: b.scales }
        offset = align(offset + b.scales)
      }
    } else {
      const length = rows * cols * 4
      data = { offset, length }
      // Tables of a group lie back to back so that one initializer spans them.
      offset = packed ? offset + length : align(offset + length)
    }
    tensors[key] = {
      key,
      kind,
      source,
      rowOffset,
      rows,
      cols,
      data,
      ...(scales ? { scales } : {}),
      ...(stackedStep === undefined ? {} : { stackedStep }),
    }
  }
  const { dim, card, textCard, depformerDim: D } = config
  // Temporal embeddings: audio tables 0..15 then the text table, contiguous.
  const groupStart = offset
  for (let k = 0; k < config.nQ; k++) add(`emb${k}`, "table", `emb.${k}.weight`, card + 1, dim, 0, true)
  add("text_emb", "table", "text_emb.weight", textCard + 1, dim, 0, true)
  groups.emb_all = {
    offset: groupStart,
    length: offset - groupStart,
    rows: config.nQ * (card + 1) + textCard + 1,
    cols: dim,
  }
  offset = align(offset)
  for (let l = 0; l < config.numLayers; l++) {
    const p = `transformer.layers.${l}`
    add(`t${l}.norm1`, "vector", `${p}.norm1.alpha`, 1, dim)
    add(`t${l}.qkv`, "linear", `${p}.self_attn.in_proj_weight`, 3 * dim, dim)
    add(`t${l}.out`, "linear", `${p}.self_attn.out_proj.weight`, dim, dim)
    add(`t${l}.norm2`, "vector", `${p}.norm2.alpha`, 1, dim)
    const hidden = config.ffnHidden
    add(`t${l}.ffn_gate`, "linear", `${p}.gating.linear_in.weight`, hidden, dim)
    add(`t${l}.ffn_up`, "linear", `${p}.gating.linear_in.weight`, hidden, dim, hidden)
    add(`t${l}.ffn_out`, "linear", `${p}.gating.linear_out.weight`, dim, config.ffnHidden)
  }
  add("out_norm", "vector", "out_norm.alpha", 1, dim)
  add("text_linear", "linear", "text_linear.weight", textCard, dim)
  add("d.text_emb", "table", "depformer_text_emb.weight", textCard + 1, D)
  for (let k = 0; k < depformerSteps - 1; k++)
    add(`d.emb${k}`, "table", `depformer_emb.${k}.weight`, card + 1, D)
  for (let k = 0; k < depformerSteps; k++) {
    add(`d${k}.in`, "linear", `depformer_in.${k}.weight`, D, dim)
    add(`d${k}.head`, "linear", `linears.${k}.weight`, card, D)
  }
  for (let l = 0; l < config.depformerNumLayers; l++) {
    const p = `depformer.layers.${l}`
    add(`d${l}.norm1`, "vector", `${p}.norm1.alpha`, 1, D)
    add(`d${l}.norm2`, "vector", `${p}.norm2.alpha`, 1, D)
    for (let k = 0; k < depformerSteps; k++) {
      // Per-step projections are stacked along rows: which rows serve step k depends on the checkpoint.
      add(`d${l}.${k}.qkv`, "linear", `${p}.self_attn.in_proj_weight`, 3 * D, D, 0, false, k)
      add(`d${l}.${k}.out`, "linear", `${p}.self_attn.out_proj.weight`, D, D, 0, false, k)
      const hidden = config.depformerFfnHidden
      add(`d${l}.${k}.ffn_gate`, "linear", `${p}.gating.${k}.linear_in.weight`, hidden, D)
      add(`d${l}.${k}.ffn_up`, "linear", `${p}.gating.${k}.linear_in.weight`, hidden, D, hidden)
      add(`d${l}.${k}.ffn_out`, "linear", `${p}.gating.${k}.linear_out.weight`, D, config.depformerFfnHidden)
    }
  }
  return { precision, depformerSteps, bytes: offset, tensors, groups }
}
