import type { MimiConfig } from "../config.ts"
import { transformerLayerPrefix } from "../plan.ts"
import type { StepGraph } from "./StepGraph.ts"

/** RoPE frequencies `exp(i · (−ln(max_period) · 2 / D))` as upstream computes them in fp32 (upstream-spec §3.4). */
export const ropeFrequencies = (headDim: number, maxPeriod: number): Float32Array => {
  const factor = Math.fround((-Math.log(maxPeriod) * 2) / headDim)
  return Float32Array.from({ length: headDim / 2 }, (_, i) => Math.exp(Math.fround(i * factor)))
}

/** Values shared by every layer of one step: the rope tables and the attention bias. */
interface StepContext {
  /** `[B·T, Dh/2]`: cosines and sines of each step's angles, row b·T + t for step t of stream b. */
  readonly cos: string
  readonly sin: string
  /**
   * Additive mask: `[T, capacity + T]` over the ring as it was before this step, then the new keys;
   * or, when the graph writes the rings (`ringsInGraph`), `[T, capacity]` over the ring written
   * (`[B, 1, T, capacity]` batched: each stream's own offset).
   */
  readonly bias: string
}

/**
 * Positions of the ring slots after this call's writes, with upstream PersonaPlex's formula
 * (upstream-spec §3.5): the slot at `end mod capacity` is given position `end` (a future
 * position, so always masked) even when it holds the oldest key. Attention is allowed iff
 * `pos_k ≥ 0`, `0 ≤ pos_q − pos_k < context`.
 *
 * When the graph writes the rings, attention runs over the ring written, as upstream's does.
 * Otherwise (the host writes them) it runs over the ring as fed (slots about to be overwritten masked
 * out) plus the new keys: the same key set, as the quirky slot `end mod capacity` is never one of
 * the new keys' slots, so they keep their true positions.
 */
const stepContext = (sg: StepGraph, offset: string, steps: number, c: MimiConfig): StepContext => {
  const { numHeads: h, dModel: d, context } = c.transformer
  const headDim = d / h
  const capacity = context
  const capacityValue = sg.f32(capacity)
  const f32s = (name: string, values: ReadonlyArray<number>) =>
    sg.tensor(name, [values.length], Float32Array.from(values))
  // Float32 index arithmetic: exact for these integers (< 2^24), and WebGPU has no int64 Mod/Sub/And.
  const mod = (x: string) =>
    sg.op("Sub", [x, sg.op("Mul", [sg.op("Floor", [sg.op("Div", [x, capacityValue])]), capacityValue])])
  const hidden = sg.f32(Number.NEGATIVE_INFINITY)
  const b = sg.batch
  // Batched, `offset` is `[B]` and each position below gains the stream's row in front.
  const rowOffset = b === 1 ? offset : sg.op("Reshape", [offset, sg.i64([b, 1])])
  const queryPositions = sg.op("Add", [
    rowOffset,
    f32s(
      "steps",
      Array.from({ length: steps }, (_, j) => j),
    ),
  ])
  const end = sg.op("Add", [rowOffset, sg.f32(steps)])
  const slots = f32s(
    "slots",
    Array.from({ length: capacity }, (_, s) => s),
  )
  const delta = sg.op("Sub", [slots, mod(end)])
  const wrapped = sg.op("Add", [end, delta])
  // Only Less and Where: WebGPU lacks And/Not, and a chain of Wheres is the conjunction.
  const positions = sg.op("Where", [
    sg.op("Less", [slots, end]),
    sg.op("Where", [sg.op("Less", [sg.f32(0), delta]), sg.op("Sub", [wrapped, capacityValue]), wrapped]),
    sg.f32(-1),
  ])
  const queryColumn = sg.op("Unsqueeze", [queryPositions, sg.i64([sg.rows.length + 1])])
  const keyPositions = sg.op("Unsqueeze", [positions, sg.i64([sg.rows.length])])
  const distance = sg.op("Sub", [queryColumn, keyPositions])
  /** `visible` where slot s holds a key that query t may see, −∞ elsewhere. */
  const ringMask = (visible: string) =>
    sg.op("Where", [
      sg.op("Less", [b === 1 ? positions : keyPositions, sg.f32(0)]),
      hidden,
      sg.op("Where", [
        sg.op("Less", [distance, sg.f32(0)]),
        hidden,
        sg.op("Where", [sg.op("Less", [distance, sg.f32(context)]), visible, hidden]),
      ]),
    ])
  const fedRingBias = () => {
    const overwritten = sg.op("Less", [mod(sg.op("Sub", [slots, offset])), sg.f32(steps)])
    const causal = Float32Array.from({ length: steps * steps }, (_, i) =>
      i % steps <= Math.floor(i / steps) ? 0 : Number.NEGATIVE_INFINITY,
    )
    return sg.op(
      "Concat",
      [
        ringMask(sg.op("Where", [overwritten, hidden, sg.f32(0)])),
        sg.tensor("causal_bias", [steps, steps], causal),
      ],
      { axis: 1 },
    )
  }
  const bias = !sg.ringsInGraph
    ? fedRingBias()
    : b === 1
      ? ringMask(sg.f32(0))
      : sg.op("Unsqueeze", [ringMask(sg.f32(0)), sg.i64([1])])

  const freqs = sg.tensor("rope_freqs", [headDim / 2], ropeFrequencies(headDim, c.transformer.maxPeriod))
  const angles = sg.op("Mul", [freqs, sg.op("Reshape", [queryPositions, sg.i64([b * steps, 1])])])
  sg.setRingSlots(mod(queryPositions), steps)
  return { cos: sg.op("Cos", [angles]), sin: sg.op("Sin", [angles]), bias }
}

/**
 * Interleaved-pair rotation (upstream-spec §3.4) of `x` `[B·T, H·Dh]` → `[B·T, H, Dh]`, as one
 * com.microsoft `RotaryEmbedding`: step t of stream b reads row b·T + t of the tables.
 */
const rope = (
  sg: StepGraph,
  x: string,
  steps: number,
  heads: number,
  headDim: number,
  ctx: StepContext,
): string => {
  const b = sg.batch
  const rows = sg.g.indices("int64", [b, steps], "rope_rows")
  const [roped] = sg.g.msOp(
    "RotaryEmbedding",
    [sg.op("Reshape", [x, sg.i64([b, steps, heads * headDim])]), rows, ctx.cos, ctx.sin],
    { interleaved: 1, num_heads: heads },
  )
  return sg.op("Reshape", [roped!, sg.i64([b * steps, heads, headDim])])
}

/**
 * LayerNorm over the last axis: the mean taken out first, then ONNX `LayerNormalization` of the
 * centered rows. Their own mean is then ~0, so the op's one-pass variance (E[x²] − mean², in float32
 * on WebGPU) loses nothing even for rows whose mean is large against their spread; it divides by
 * the standard deviation where PyTorch multiplies by its reciprocal, which differs by rounding only.
 * Three nodes instead of ten.
 */
export const layerNorm = (sg: StepGraph, x: string, prefix: string, eps: number) => {
  const centered = sg.op("Sub", [x, sg.op("ReduceMean", [x, sg.i64([-1])], { keepdims: 1 })])
  return sg.op("LayerNormalization", [centered, sg.weight(`${prefix}.weight`), sg.weight(`${prefix}.bias`)], {
    axis: -1,
    epsilon: eps,
  })
}

/**
 * Attention over the ring as fed (`[H, Dh, capacity]` keys, `[H, capacity, Dh]` values) and this
 * step's new keys and values, whose scores sit after the ring's: the ring is read in place, never copied.
 */
const attendFedRing = (
  sg: StepGraph,
  queries: string,
  ring: { readonly keys: string; readonly values: string },
  fresh: { readonly keys: string; readonly values: string },
  weights: (scores: string) => string,
  capacity: number,
  steps: number,
): string => {
  const probs = weights(
    sg.op("Concat", [sg.op("MatMul", [queries, ring.keys]), sg.op("MatMul", [queries, fresh.keys])], {
      axis: 2,
    }),
  )
  const part = (from: number, to: number) =>
    sg.op("Slice", [probs, sg.i64([from]), sg.i64([to]), sg.i64([2])])
  return sg.op("Add", [
    sg.op("MatMul", [part(0, capacity), ring.values]),
    sg.op("MatMul", [part(capacity, capacity + steps), fresh.values]),
  ])
}

/**
 * Per-step rows `[B·T, …dims]` → the layout `perm` gives one stream's `[T, …dims]`, batched with
 * the stream's row in front (`[B, …]`).
 */
const streamMajor = (
  sg: StepGraph,
  x: string,
  steps: number,
  dims: ReadonlyArray<number>,
  perm: ReadonlyArray<number>,
  reshapeUnbatched: boolean,
): string => {
  if (sg.batch === 1)
    return sg.op("Transpose", [reshapeUnbatched ? sg.op("Reshape", [x, sg.i64([steps, ...dims])]) : x], {
      perm: [...perm],
    })
  return sg.op("Transpose", [sg.op("Reshape", [x, sg.i64([sg.batch, steps, ...dims])])], {
    perm: [0, ...perm.map((axis) => axis + 1)],
  })
}

/**
 * The streaming transformer on `x` `[B·T, D]` (time-major): pre-norm layers with layer scale,
 * RoPE, attention over a KV ring of `context` slots (keys stored `[H, Dh, capacity]`,
 * values `[H, capacity, Dh]`), exact-erf GELU FFN. `offset` (float32 `[1]`) is the number of
 * steps processed since the reset.
 */
export const streamingTransformer = (
  sg: StepGraph,
  x: string,
  steps: number,
  offset: string,
  which: "encoder" | "decoder",
  c: MimiConfig,
): string => {
  const { numHeads: h, dModel: d, dimFeedforward: ff, numLayers, context, layerNormEps: eps } = c.transformer
  const headDim = d / h
  const ctx = stepContext(sg, offset, steps, c)
  const scale = sg.f32(1 / Math.sqrt(headDim))
  let hidden = x
  for (let l = 0; l < numLayers; l++) {
    const p = transformerLayerPrefix(which, l)
    const normed = layerNorm(sg, hidden, `${p}.norm1`, eps)
    const qkv = sg.linear(normed, `${p}.self_attn.in_proj_weight`, 3 * d, d)
    // One rotation for the queries and keys together, as `[T, 2H, Dh]`.
    const [qk, v] = sg.g.opMulti("Split", [qkv, sg.i64([2 * d, d])], 2, { axis: 1 }) as [string, string]
    const [qr, kr] = sg.g.opMulti("Split", [rope(sg, qk, steps, 2 * h, headDim, ctx), sg.i64([h, h])], 2, {
      axis: 1,
    }) as [string, string]
    const keysName = `${which}.layer${l}.keys`
    const valuesName = `${which}.layer${l}.values`
    const lead = sg.rows
    const ringKeys = sg.ringState(keysName, [...lead, h, headDim, context], lead.length + 2)
    const ringValues = sg.ringState(valuesName, [...lead, h, context, headDim], lead.length + 1)
    const newKeys = streamMajor(sg, kr, steps, [h, headDim], [1, 2, 0], false)
    const newValues = streamMajor(sg, v, steps, [h, headDim], [1, 0, 2], true)
    const keysWritten = sg.setRingUpdate(keysName, newKeys, steps)
    const valuesWritten = sg.setRingUpdate(valuesName, newValues, steps)
    const queries = streamMajor(sg, qr, steps, [h, headDim], [1, 0, 2], false)
    /** Attention weights of `scores` `[H, T, keys]`, scaled and masked by the step's bias. */
    const weights = (scores: string) =>
      sg.op("Softmax", [sg.op("Add", [sg.op("Mul", [scores, scale]), ctx.bias])], { axis: -1 })
    const attended =
      keysWritten && valuesWritten
        ? sg.op("MatMul", [weights(sg.op("MatMul", [queries, keysWritten])), valuesWritten])
        : attendFedRing(
            sg,
            queries,
            { keys: ringKeys, values: ringValues },
            { keys: newKeys, values: newValues },
            weights,
            context,
            steps,
          )
    const merged = sg.op("Reshape", [
      sg.op("Transpose", [attended], { perm: sg.batch === 1 ? [1, 0, 2] : [0, 2, 1, 3] }),
      sg.i64([sg.batch * steps, d]),
    ])
    hidden = sg.op("Add", [
      hidden,
      sg.scaledLinear(merged, `${p}.self_attn.out_proj.weight`, `${p}.layer_scale_1.scale`, d, d),
    ])
    const normed2 = layerNorm(sg, hidden, `${p}.norm2`, eps)
    const ffOut = sg.scaledLinear(
      sg.op("Gelu", [sg.linear(normed2, `${p}.linear1.weight`, ff, d)]),
      `${p}.linear2.weight`,
      `${p}.layer_scale_2.scale`,
      d,
      ff,
    )
    hidden = sg.op("Add", [hidden, ffOut])
  }
  return hidden
}
