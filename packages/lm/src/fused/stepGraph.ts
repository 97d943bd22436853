import { Attr, GraphBuilder, searchGrid } from "@personaplex/runtime"
import type { LmConfig } from "../LmConfig.ts"
import type { ConvertedTensor, WeightLayout } from "./convert/layout.ts"
import { kthLargest } from "./topK.ts"

/** RoPE frequencies as upstream computes them in f32: `exp(i · (−ln(maxPeriod)·2/D))`. */
export const ropeFrequencies = (headDim: number, maxPeriod: number) => {
  const c = Math.fround((-Math.log(maxPeriod) * 2) / headDim)
  return Float32Array.from({ length: headDim / 2 }, (_, i) => Math.fround(Math.exp(Math.fround(i * c))))
}

export type GpuSampling = "topk" | "argmax"
/**
 * `mha`: com.microsoft `MultiHeadAttention` over the ring; `matmul`: batched MatMul + Softmax + MatMul
 * over the ring; `gqa`: com.microsoft `GroupQueryAttention` over a linear KV cache of `context`
 * frames written in place (RoPE, the cache write and the attention in one node), which holds
 * `context` frames after a reset (the ring forms slide past that).
 */
export type GpuAttention = "mha" | "matmul" | "gqa"

/** Element type of the `gqa` KV cache: float32 spares the two Casts a layer at twice the memory. */
export type KvCacheType = "float16" | "float32"

export interface StepGraphOptions {
  /** KV ring capacity in frames. */
  readonly context: number
  /** `topk`: Gumbel-max among the top k; `argmax`: Gumbel-max over the whole vocabulary (no TopK op). */
  readonly sampling: GpuSampling
  /** Temporal attention over the ring (default `mha`). */
  readonly attention?: GpuAttention
  /** The `gqa` KV cache's element type (default float16; the rings are float16). */
  readonly kvCache?: KvCacheType
  /**
   * com.microsoft `RotaryEmbedding` for RoPE and `SkipSimplifiedLayerNormalization` for each residual
   * add followed by an RMSNorm (default true); false builds both from elementwise ops (more nodes).
   */
  readonly fusedOps?: boolean
  /** Also output the last row's text logits and each depformer step's audio logits. */
  readonly outputLogits?: boolean
  /**
   * int8/int4 weights: quantize each linear's activations to int8 (per 128 values) too, as
   * `MatMulNBits` accuracy level 4, which WebGPU runs as integer dot products (DP4A) in tiles of 64
   * rows. Default false: float activations (level 0).
   */
  readonly int8Activations?: boolean
  /**
   * `gqa`: each row attends to its last `window` frames only (itself included), and the cache slides
   * (`buildShiftGraph`): GroupQueryAttention still writes it in place, keys roped at their absolute
   * positions (`StepIo.cos`/`sin`), and the attention is a MultiHeadAttention over the cache with a
   * host-made bias (`StepIo.windowBias`; WebGPU's GroupQueryAttention ignores `local_window_size`).
   * Default: every frame in the cache, which then holds `context` frames after a reset.
   */
  readonly window?: number
  /**
   * `gqa`: depformer step k attends to its last `depformerWindow` steps (default: all k + 1). Upstream's
   * depformer ring of 16 sees 15 at step 15 (upstream-spec §3.5): `upstreamRingQuirk`.
   */
  readonly depformerWindow?: number
  /**
   * Take the user stream's codes from the int32 input `user_codes` (their embeddings, times
   * `user_codes_weight`, added to every row) and also output the agent's codes as int32 `agent_codes`:
   * a frame whose codes come from and go to Mimi sessions on the device (`SessionSpec.shared`).
   */
  readonly codesOnDevice?: boolean
  /**
   * Sessions stepped together (default 1): every input and cache gains a leading row per session
   * (`[batch, heads, context, headDim]` caches, `[batch, 1, vocab]` noise), each row attending to its
   * own cache only. `gqa` only, without `codesOnDevice`. The temporal keys and values go into the
   * cache by ScatterND at `StepIo.writeIndex` and each row attends under the host's window bias
   * (MultiHeadAttention), as GroupQueryAttention takes runs of several rows in a batch of one only.
   * The sampler is a plain ArgMax per row (the first maximum, as the one-row grid search gives).
   */
  readonly batch?: number
  /**
   * ONNX opset (default 18): a provider registers each kernel for a range of opset versions, and
   * WebGPU's ranges differ per op (`diagnose.ts` lists them).
   */
  readonly opset?: number
  readonly layout: WeightLayout
  /** Absolute path of the converted weights (`convertWeights`). */
  readonly weightsFile: string
}

/**
 * The row of stream `stream`'s `token` in the `emb_all` table group: streams 1..nQ are audio tables
 * 0..nQ−1, stream 0 (text) is the last table; each audio table has `card + 1` rows.
 */
export const embeddingRow = (config: LmConfig, stream: number, token: number): number =>
  (stream === 0 ? config.nQ : stream - 1) * (config.card + 1) + token

/** Names of the step graph's inputs and outputs. */
export const StepIo = {
  /** int64 `[1, T, 17]`: row of each stream's token in the `emb_all` table group (−1 tokens: any row, `keep` 0). */
  ids: "ids",
  /** f32 `[1, T, 17, 1]`: 1 to embed the token, 0 for −1 (zero embedding). */
  keep: "keep",
  /** f32 `[1, T, dim]` added to the embeddings (voice-prompt replay). */
  extra: "extra",
  /** f32 `[T, headDim/2]` cosines and sines of the RoPE angles of each row's absolute position (rings, windowed `gqa`). */
  cos: "rope_cos",
  sin: "rope_sin",
  /** int64 `[1, T]`: 0..T−1, row t's index into `rope_cos`/`rope_sin` (RotaryEmbedding's position_ids). */
  ropeRows: "rope_rows",
  /** f32 `[T, context]`: 0 where row t may see ring slot s (after this run's writes), −1e30 elsewhere. */
  bias: "attn_bias",
  /** int64 `[heads, T, 2]`: `(head, slot)` where row t's key and value go (`batch`: `[batch, heads, T, 3]`, `(b, head, slot)`). */
  writeIndex: "write_index",
  /** f32 `[T, context]` (`gqa` with a window): 0 where row t sees cache frame s, −1e4 elsewhere. */
  windowBias: "window_bias",
  /** int64 `[1]` (`buildShiftGraph`): the first frame moved to the cache's front. */
  shiftFrom: "shift_from",
  /** int64 `[1]` (`buildShiftGraph`): `shiftFrom` plus the frames kept. */
  shiftUntil: "shift_until",
  /** `buildGrowGraph`: the smaller batch's cache `name`, read from its pool. */
  grownFrom: (name: string) => `from_${name}`,
  /** int64 `[2]` (batched `buildShiftGraph`): `[b, first frame moved]` of row b. */
  shiftRow: (b: number) => `shift_row_${b}`,
  /** int64 `[2]` (batched `buildShiftGraph`): `[b + 1, first frame moved + frames kept]`. */
  shiftRowEnd: (b: number) => `shift_row_end_${b}`,
  /** int32 `[1]`: frames in the cache after this run, minus one (`gqa`). */
  seqlensK: "seqlens_k",
  /** int32 `[1]`: frames in the cache after this run (`gqa`). */
  totalLength: "total_sequence_length",
  /** f32 `[textCard]`: Gumbel noise times the temperature (argmax(l + T·g) = argmax(l/T + g)). */
  textNoise: "text_noise",
  textTopK: "text_top_k",
  /** f32 `[steps, card]`: the same for each depformer step. */
  audioNoise: "audio_noise",
  audioTopK: "audio_top_k",
  keys: (l: number) => `keys_${l}`,
  values: (l: number) => `values_${l}`,
  keysOut: (l: number) => `keys_${l}_out`,
  valuesOut: (l: number) => `values_${l}_out`,
  /**
   * `gqa`: depformer layer `l`'s keys and values of this frame's steps, f32 `[1, heads, steps, headDim]`,
   * one buffer that step `k` writes in place as output `…_out_${k}` (resident, like the temporal cache).
   */
  depformerKeys: (l: number) => `depformer_keys_${l}`,
  depformerValues: (l: number) => `depformer_values_${l}`,
  depformerKeysOut: (l: number, k: number) => `depformer_keys_${l}_out_${k}`,
  depformerValuesOut: (l: number, k: number) => `depformer_values_${l}_out_${k}`,
  /**
   * f32 `[1, 1 + steps]`: the text token, then each depformer step's audio token, as exact floats in
   * ONE output: a WebGPU run downloads each output separately, ~0.5 ms apiece on the H100 machine
   * (`probe/run-overhead-probe.mjs`).
   */
  tokens: "tokens",
  textLogits: "text_logits",
  /** f32 `[1, steps, card]` (`outputLogits`): each depformer step's logits. */
  audioLogits: "audio_logits",
  /** int32 `[nQ / 2]` (`codesOnDevice`): this frame's user codes, from the Mimi encoder. */
  userCodes: "user_codes",
  /** f32 `[1]` (`codesOnDevice`): 1 to embed `user_codes`, 0 where the rows' ids carry the user tokens. */
  userCodesWeight: "user_codes_weight",
  /** int32 `[nQ / 2]` (`codesOnDevice`): the agent's codes of this step, for the Mimi decoder. */
  agentCodes: "agent_codes",
} as const

/**
 * The whole LM step for the GPU as ONE graph (upstream-spec §3.6-3.7): embeddings of T rows
 * (activations `[1, T, dim]` throughout, so no node reshapes between layers),
 * the temporal transformer with its float16 KV rings `[heads, context, headDim]` as state
 * (rows written in-graph with ScatterND, so the rings never leave the device), then for the last
 * row the text head and the depformer loop (`layout.depformerSteps` steps, each conditioned on the
 * previous step's sampled token), with sampling in-graph. T = 1 is a frame; T > 1 prefills
 * known tokens (a system prompt) in one run. Linears read the converted weights in place
 * (float16 `MatMul`, or `MatMulNBits` for int8/int4); activations are float32.
 */
export const buildStepGraph = (config: LmConfig, options: StepGraphOptions): GraphBuilder => {
  const g = new GraphBuilder("moshi_gpu_step", options.opset ?? 18)
  const gqa = options.attention === "gqa"
  const B = options.batch ?? 1
  if (B > 1 && (!gqa || options.codesOnDevice))
    throw new Error("a batched step graph needs the gqa cache and no codes on the device")
  const { layout, weightsFile } = options
  const { dim, numHeads: heads, card, textCard, depformerDim: D } = config
  const hd = dim / heads
  const ctx = options.context
  const S = layout.depformerSteps
  const tensor = (key: string): ConvertedTensor => {
    const t = layout.tensors[key]
    if (!t) throw new Error(`converted weights lack "${key}"`)
    return t
  }
  const made = new Map<string, string>()
  const ext = (key: string, type: "float32" | "float16" | "uint8", dims: number[]) => {
    const name = `w.${key}.${type}`
    let value = made.get(name)
    if (!value) {
      value = g.externalInitializer(name, { type, dims, file: weightsFile, ...tensor(key).data })
      made.set(name, value)
    }
    return value
  }

  /**
   * `x · Wᵀ`. The rows of a batch are the product's M: `[B, T, K]` as `[1, B·T, K]`, since a
   * leading batch dimension makes `MatMulNBits` (WebGPU) dispatch the whole weight read once per
   * batch entry, while rows of one M share each tile of weights.
   */
  const linear = (x: string, key: string): string => {
    if (B === 1) return linearRows(x, key)
    const t = tensor(key)
    const y = linearRows(g.op("Reshape", [x, g.int64s([1, -1, t.cols])]), key)
    return g.op("Reshape", [y, g.int64s([B, -1, t.rows])])
  }
  const linearRows = (x: string, key: string): string => {
    const t = tensor(key)
    if (layout.precision === "float32") return g.op("MatMul", [x, ext(key, "float32", [t.cols, t.rows])])
    if (layout.precision === "float16") {
      const w = ext(key, "float16", [t.cols, t.rows])
      const y = g.op("MatMul", [g.op("Cast", [x], { to: 10 }), w])
      return g.op("Cast", [y], { to: 1 })
    }
    const bits = layout.precision === "int4" ? 4 : 8
    const kBlocks = Math.ceil(t.cols / 32)
    const packed = ext(key, "uint8", [t.rows, kBlocks, (32 * bits) / 8])
    const scales = g.externalInitializer(`w.${key}.scales`, {
      type: "float32",
      dims: [t.rows * kBlocks],
      file: weightsFile,
      ...t.scales!,
    })
    const [y] = g.msOp("MatMulNBits", [x, packed, scales], {
      K: t.cols,
      N: t.rows,
      bits,
      block_size: 32,
      accuracy_level: options.int8Activations ? 4 : 0,
    })
    return y!
  }
  const fused = options.fusedOps ?? true
  const norm = (x: string, key: string, width: number) =>
    g.op("SimplifiedLayerNormalization", [x, ext(key, "float32", [width])], { axis: -1, epsilon: 1e-8 })
  /** `[x + residual, RMSNorm(x + residual)]`, one node when fused. */
  const addNorm = (x: string, residual: string, key: string, width: number): [string, string] => {
    if (!fused) {
      const sum = g.op("Add", [x, residual])
      return [sum, norm(sum, key, width)]
    }
    const [normed, , , sum] = g.msOp(
      "SkipSimplifiedLayerNormalization",
      [x, residual, ext(key, "float32", [width])],
      { epsilon: 1e-8 },
      4,
    )
    return [sum!, normed!]
  }
  const split = (x: string, sizes: number[], axis = -1) =>
    g.opMulti("Split", [x, g.int64s(sizes)], sizes.length, { axis })
  /** `linear_out(SiLU(gate(x)) · up(x))`; `key` names the layer (`<key>.ffn_gate`, `.ffn_up`, `.ffn_out`). */
  const gatedFfn = (x: string, key: string) => {
    const gate = linear(x, `${key}.ffn_gate`)
    return linear(
      g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), linear(x, `${key}.ffn_up`)]),
      `${key}.ffn_out`,
    )
  }
  // Gumbel-max over `[1, 1, n]` logits with temperature-scaled noise; with top-k, logits below the
  // k-th largest are pushed out of reach first, so that no int64 tensor is gathered, reshaped or
  // concatenated (GPU kernels lack most int64 variants). The WebGPU ArgMax scans its axis in one
  // thread (a 32,000-entry vocabulary took ~1.4 ms on the H100), so the n scores are searched as a
  // grid: the row holding the largest, then the column within it, which is the same first maximum.
  const sample = (logits: string, scaledNoise: string, topK: string | undefined, n: number): SampledToken => {
    let candidates = logits
    if (topK) {
      const kth = kthLargest(g, logits, topK, n, B)
      candidates = g.op("Where", [g.op("Less", [logits, kth]), g.scalar(-1e30), logits])
    }
    if (B > 1) {
      const index = g.op("ArgMax", [g.op("Add", [candidates, scaledNoise])], { axis: -1, keepdims: 0 })
      return { row: index, column: "", rows: 1, cols: n, batched: true }
    }
    const { rows, cols } = searchGrid(n)
    const scores = g.op("Reshape", [g.op("Add", [candidates, scaledNoise]), g.int64s([rows, cols])])
    const rowMaxima = g.op("ReduceMax", [scores, g.int64s([1])], { keepdims: 0 })
    const row = g.op("ArgMax", [rowMaxima], { axis: 0, keepdims: 1 })
    const column = g.op("ArgMax", [g.op("Gather", [scores, row], { axis: 0 })], { axis: -1, keepdims: 0 })
    return { row, column, rows, cols }
  }
  /** Entry (row, column) of a table laid out `[rows, cols, ...]` for a sampled token → `[1, 1, ...]`. */
  const gridEntry = (table: string, token: SampledToken) =>
    g.op("Gather", [g.op("Gather", [table, token.row], { axis: 0 }), token.column], { axis: 1 })
  /** Rows `[1, 1, width]` of an embedding table for a sampled token (its first `n` rows as a grid). */
  const embedToken = (key: string, token: SampledToken) => {
    const t = tensor(key)
    if (token.batched) {
      const rows = g.externalInitializer(`w.${key}.rows`, {
        type: "float32",
        dims: [token.cols, t.cols],
        file: weightsFile,
        offset: t.data.offset,
        length: token.cols * t.cols * 4,
      })
      return g.op("Gather", [rows, token.row], { axis: 0 })
    }
    const table = g.externalInitializer(`w.${key}.grid`, {
      type: "float32",
      dims: [token.rows, token.cols, t.cols],
      file: weightsFile,
      offset: t.data.offset,
      length: token.rows * token.cols * t.cols * 4,
    })
    return gridEntry(table, token)
  }
  // Each token becomes an exact float `[1, 1]` by Gathers from an index table (WebGPU has no int64 Cast).
  const valueTables = new Map<number, string>()
  const tokenValue = (token: SampledToken) => {
    const n = token.rows * token.cols
    if (token.batched) {
      const values = valueTables.get(-n) ?? g.indices("float32", [n], "token_values")
      valueTables.set(-n, values)
      return g.op("Gather", [values, token.row], { axis: 0 })
    }
    const values = valueTables.get(n) ?? g.indices("float32", [token.rows, token.cols], "token_values")
    valueTables.set(n, values)
    return gridEntry(values, token)
  }

  /** The summed embeddings `[dim]` of the user codes (streams 9..16 of the table group), times their weight. */
  function userCodesEmbedding(table: string) {
    const half = config.nQ / 2
    const codes = g.input(StepIo.userCodes, "int32", [half])
    const weight = g.input(StepIo.userCodesWeight, "float32", [1])
    const firstRows = Array.from({ length: half }, (_, q) => embeddingRow(config, 1 + half + q, 0))
    const rows = g.op("Add", [codes, g.constant("int32", [half], firstRows)])
    const summed = g.op("ReduceSum", [g.op("Gather", [table, rows], { axis: 0 }), g.int64s([0])], {
      keepdims: 0,
    })
    return g.op("Mul", [summed, weight])
  }

  const ids = g.input(StepIo.ids, "int64", [B, "T", 17])
  const keep = g.input(StepIo.keep, "float32", [B, "T", 17, 1])
  const extra = g.input(StepIo.extra, "float32", [B, "T", dim])
  const cos = !gqa ? g.input(StepIo.cos, "float32", ["T", hd / 2]) : ""
  const sin = !gqa ? g.input(StepIo.sin, "float32", ["T", hd / 2]) : ""
  const ropeRows = !gqa ? g.input(StepIo.ropeRows, "int64", [1, "T"]) : ""
  const bias = !gqa ? g.input(StepIo.bias, "float32", ["T", ctx]) : ""
  const writeIndex = !gqa ? g.input(StepIo.writeIndex, "int64", [heads, "T", 2]) : ""
  const seqlensK = gqa && B === 1 ? g.input(StepIo.seqlensK, "int32", [1]) : ""
  const totalLength = gqa && B === 1 ? g.input(StepIo.totalLength, "int32", [1]) : ""
  const textNoise = g.input(StepIo.textNoise, "float32", B > 1 ? [B, 1, textCard] : [textCard])
  const audioNoise = g.input(StepIo.audioNoise, "float32", B > 1 ? [B, S, card] : [S, card])
  const topk = options.sampling === "topk"
  const textTopK = topk ? g.input(StepIo.textTopK, "int64", [1]) : undefined
  const audioTopK = topk ? g.input(StepIo.audioTopK, "int64", [1]) : undefined

  // Embeddings: one Gather over the 17 tables laid back to back, zeroed for −1 tokens, summed.
  const group = layout.groups.emb_all!
  const table = g.externalInitializer("w.emb_all", {
    type: "float32",
    dims: [group.rows, group.cols],
    file: weightsFile,
    offset: group.offset,
    length: group.length,
  })
  const gathered = g.op("Gather", [table, ids], { axis: 0 })
  let [x, normed] = addNorm(
    g.op("ReduceSum", [g.op("Mul", [gathered, keep]), g.int64s([2])], { keepdims: 0 }),
    options.codesOnDevice ? g.op("Add", [extra, userCodesEmbedding(table)]) : extra,
    "t0.norm1",
    dim,
  )

  /** The attention of layer `l` over its cache for the rows' packed `[1, T, 3·dim]` q, k, v → `[1, T, dim]`. */
  const attention = gqa ? gqaAttention() : ringAttention()

  function gqaAttention() {
    const freqs = ropeFrequencies(hd, config.maxPeriod)
    const angles = (f: (a: number) => number) =>
      Array.from({ length: ctx * (hd / 2) }, (_, j) =>
        f(Math.fround(Math.floor(j / (hd / 2)) * freqs[j % (hd / 2)]!)),
      )
    const kv = options.kvCache ?? "float16"
    const windowed = options.window !== undefined && options.window < ctx
    // GroupQueryAttention ropes the fixed cache's keys itself, from these tables.
    const ropedInGqa = !windowed && B === 1
    const cosCache = ropedInGqa ? g.constant(kv, [ctx, hd / 2], angles(Math.cos), "rope_cos_cache") : ""
    const sinCache = ropedInGqa ? g.constant(kv, [ctx, hd / 2], angles(Math.sin), "rope_sin_cache") : ""
    const cacheDims = [B, heads, ctx, hd]
    const toCache = (v: string) => (kv === "float16" ? g.op("Cast", [v], { to: 10 }) : v)
    const fromCache = (v: string) => (kv === "float16" ? g.op("Cast", [v], { to: 1 }) : v)
    if (B > 1) return scatterAttention()
    return windowed
      ? windowedAttention()
      : (l: number, qkv: string) => {
          const [attended, kOut, vOut] = g.msOp(
            "GroupQueryAttention",
            [
              toCache(qkv),
              "",
              "",
              g.input(StepIo.keys(l), kv, cacheDims),
              g.input(StepIo.values(l), kv, cacheDims),
              seqlensK,
              totalLength,
              cosCache,
              sinCache,
            ],
            {
              num_heads: heads,
              kv_num_heads: heads,
              do_rotary: 1,
              rotary_interleaved: 1,
              scale: Attr.float(1 / Math.sqrt(hd)),
            },
            3,
          )
          g.output(kOut!, StepIo.keysOut(l), kv, cacheDims)
          g.output(vOut!, StepIo.valuesOut(l), kv, cacheDims)
          return fromCache(attended!)
        }

    /** Keys roped at their absolute positions and scattered into each row's cache, attention under the window bias. */
    function scatterAttention() {
      const cast = (v: string) => (kv === "float16" ? g.op("Cast", [v], { to: 10 }) : v)
      const rowCos = cast(g.input(StepIo.cos, "float32", ["BT", hd / 2]))
      const rowSin = cast(g.input(StepIo.sin, "float32", ["BT", hd / 2]))
      const rows = g.input(StepIo.ropeRows, "int64", [B, "T"])
      const writeIndex = g.input(StepIo.writeIndex, "int64", [B, heads, "T", 3])
      const bias = g.op("Reshape", [
        toCache(g.input(StepIo.windowBias, "float32", [B, "T", ctx])),
        g.int64s([B, 1, -1, ctx]),
      ])
      const part = (packed: string, i: number) =>
        g.op("Slice", [packed, g.int64s([i * dim]), g.int64s([(i + 1) * dim]), g.int64s([-1])])
      const rope = (v: string) =>
        g.msOp("RotaryEmbedding", [v, rows, rowCos, rowSin], { interleaved: 1, num_heads: heads })[0]!
      const headsFirst = (v: string) =>
        g.op("Transpose", [g.op("Reshape", [v, g.int64s([B, -1, heads, hd])])], { perm: [0, 2, 1, 3] })
      return (l: number, qkv: string) => {
        const packed = toCache(qkv)
        const query = rope(part(packed, 0))
        const keys = g.op("ScatterND", [
          g.input(StepIo.keys(l), kv, cacheDims),
          writeIndex,
          headsFirst(rope(part(packed, 1))),
        ])
        const values = g.op("ScatterND", [
          g.input(StepIo.values(l), kv, cacheDims),
          writeIndex,
          headsFirst(part(packed, 2)),
        ])
        g.output(keys, StepIo.keysOut(l), kv, cacheDims)
        g.output(values, StepIo.valuesOut(l), kv, cacheDims)
        const [attended] = g.msOp("MultiHeadAttention", [query, keys, values, "", "", bias], {
          num_heads: heads,
          scale: Attr.float(1 / Math.sqrt(hd)),
        })
        return fromCache(attended!)
      }
    }

    /**
     * The cache slides (`FusedStep` moves its last frames to the front when full), so a frame's slot
     * is not its position: keys are roped at their absolute positions before GroupQueryAttention writes
     * them, and the rows attend with a MultiHeadAttention over the cache under the host's window bias.
     */
    function windowedAttention() {
      const cast = (v: string) => (kv === "float16" ? g.op("Cast", [v], { to: 10 }) : v)
      const rowCos = cast(g.input(StepIo.cos, "float32", ["T", hd / 2]))
      const rowSin = cast(g.input(StepIo.sin, "float32", ["T", hd / 2]))
      const rows = g.input(StepIo.ropeRows, "int64", [1, "T"])
      const bias = g.op("Reshape", [
        toCache(g.input(StepIo.windowBias, "float32", ["T", ctx])),
        g.int64s([1, 1, -1, ctx]),
      ])
      const part = (packed: string, i: number) =>
        g.op("Slice", [packed, g.int64s([i * dim]), g.int64s([(i + 1) * dim]), g.int64s([-1])])
      const rope = (v: string) =>
        g.msOp("RotaryEmbedding", [v, rows, rowCos, rowSin], { interleaved: 1, num_heads: heads })[0]!
      return (l: number, qkv: string) => {
        const packed = toCache(qkv)
        const query = rope(part(packed, 0))
        const [, kOut, vOut] = g.msOp(
          "GroupQueryAttention",
          [
            query,
            rope(part(packed, 1)),
            part(packed, 2),
            g.input(StepIo.keys(l), kv, cacheDims),
            g.input(StepIo.values(l), kv, cacheDims),
            seqlensK,
            totalLength,
          ],
          { num_heads: heads, kv_num_heads: heads, scale: Attr.float(1 / Math.sqrt(hd)) },
          3,
        )
        g.output(kOut!, StepIo.keysOut(l), kv, cacheDims)
        g.output(vOut!, StepIo.valuesOut(l), kv, cacheDims)
        const [attended] = g.msOp("MultiHeadAttention", [query, kOut!, vOut!, "", "", bias], {
          num_heads: heads,
          scale: Attr.float(1 / Math.sqrt(hd)),
        })
        return fromCache(attended!)
      }
    }
  }

  function ringAttention() {
    // Interleaved RoPE (pairs 2i, 2i+1) of `v` `[T, dim]` → `[T, heads, hd]`.
    const cosRows = fused ? "" : g.op("Reshape", [cos, g.int64s([-1, 1, hd / 2, 1])])
    const sinRows = fused ? "" : g.op("Reshape", [sin, g.int64s([-1, 1, hd / 2, 1])])
    const rope = (v: string) => {
      if (fused) {
        const [roped] = g.msOp(
          "RotaryEmbedding",
          [g.op("Reshape", [v, g.int64s([1, -1, dim])]), ropeRows, cos, sin],
          { interleaved: 1, num_heads: heads },
        )
        return g.op("Reshape", [roped!, g.int64s([-1, heads, hd])])
      }
      const [x0, x1] = split(g.op("Reshape", [v, g.int64s([-1, heads, hd / 2, 2])]), [1, 1])
      const r0 = g.op("Sub", [g.op("Mul", [x0!, cosRows]), g.op("Mul", [x1!, sinRows])])
      const r1 = g.op("Add", [g.op("Mul", [x0!, sinRows]), g.op("Mul", [x1!, cosRows])])
      return g.op("Reshape", [g.op("Concat", [r0, r1], { axis: -1 }), g.int64s([-1, heads, hd])])
    }
    const headsFirst = (v: string) => g.op("Transpose", [v], { perm: [1, 0, 2] })
    // com.microsoft MultiHeadAttention reads the rings in place as BNSH keys/values [1, heads, ctx, hd];
    // the host's −1e30 becomes −1e4 so it stays finite in float16 (a fully masked tile must not give NaN).
    const useMha = options.attention !== "matmul"
    const attentionBias = useMha
      ? g.op("Cast", [g.op("Reshape", [g.op("Max", [bias, g.scalar(-1e4)]), g.int64s([1, 1, -1, ctx])])], {
          to: 10,
        })
      : ""
    const biasRows = useMha ? "" : g.op("Unsqueeze", [bias, g.int64s([0])]) // [1, T, ctx]
    const ringAsBnsh = g.int64s([1, heads, ctx, hd])
    /** `q` `[T, heads, hd]` (roped), rings `[heads, ctx, hd]` after this run's writes → `[T, dim]`. */
    const mhaAttention = (q: string, kNext: string, vNext: string) => {
      const query = g.op("Cast", [g.op("Reshape", [q, g.int64s([1, -1, dim])])], { to: 10 })
      const [attended] = g.msOp(
        "MultiHeadAttention",
        [
          query,
          g.op("Reshape", [kNext, ringAsBnsh]),
          g.op("Reshape", [vNext, ringAsBnsh]),
          "",
          "",
          attentionBias,
        ],
        { num_heads: heads, scale: Attr.float(1 / Math.sqrt(hd)) },
      )
      return g.op("Reshape", [g.op("Cast", [attended!], { to: 1 }), g.int64s([1, -1, dim])])
    }
    const matmulAttention = (q: string, kNext: string, vNext: string) => {
      const qh = headsFirst(g.op("Mul", [q, g.scalar(1 / Math.sqrt(hd))])) // [heads, T, hd]
      // scores [heads, ctx, T] with the ring as the left operand (no copy of the ring), then [heads, T, ctx].
      const qT = g.op("Transpose", [g.op("Cast", [qh], { to: 10 })], { perm: [0, 2, 1] })
      const scores = g.op("Transpose", [g.op("Cast", [g.op("MatMul", [kNext, qT])], { to: 1 })], {
        perm: [0, 2, 1],
      })
      const probs = g.op("Softmax", [g.op("Add", [scores, biasRows])], { axis: -1 })
      const attn = g.op("Cast", [g.op("MatMul", [g.op("Cast", [probs], { to: 10 }), vNext])], { to: 1 })
      return g.op("Reshape", [headsFirst(attn), g.int64s([1, -1, dim])])
    }
    return (l: number, qkv: string) => {
      const kRing = g.input(StepIo.keys(l), "float16", [heads, ctx, hd])
      const vRing = g.input(StepIo.values(l), "float16", [heads, ctx, hd])
      const [q, k, v] = split(qkv, [dim, dim, dim])
      const kh = g.op("Cast", [headsFirst(rope(k!))], { to: 10 })
      const vh = g.op("Cast", [headsFirst(g.op("Reshape", [v!, g.int64s([-1, heads, hd])]))], { to: 10 })
      const kNext = g.op("ScatterND", [kRing, writeIndex, kh])
      const vNext = g.op("ScatterND", [vRing, writeIndex, vh])
      g.output(kNext, StepIo.keysOut(l), "float16", [heads, ctx, hd])
      g.output(vNext, StepIo.valuesOut(l), "float16", [heads, ctx, hd])
      return useMha ? mhaAttention(rope(q!), kNext, vNext) : matmulAttention(rope(q!), kNext, vNext)
    }
  }

  for (let l = 0; l < config.numLayers; l++) {
    const merged = attention(l, linear(normed, `t${l}.qkv`))
    const [attended, normed2] = addNorm(x, linear(merged, `t${l}.out`), `t${l}.norm2`, dim)
    const ffn = gatedFfn(normed2, `t${l}`)
    if (l + 1 < config.numLayers) [x, normed] = addNorm(attended, ffn, `t${l + 1}.norm1`, dim)
    else x = g.op("Add", [attended, ffn])
  }
  const last = g.op("Slice", [x, g.int64s([-1]), g.int64s([2 ** 53 - 1]), g.int64s([1])])
  const hidden = norm(last, "out_norm", dim)
  const textLogits = linear(hidden, "text_linear")
  const textToken = sample(textLogits, textNoise, textTopK, textCard)
  const tokenValues = [tokenValue(textToken)]
  // Its own node: an output that the sampler also reads would go stale in a graph-capture replay.
  // Max(x, x) is an exact copy that ORT keeps (its optimizer removes a × 1 as a no-op).
  if (options.outputLogits)
    g.output(g.op("Max", [textLogits, textLogits]), StepIo.textLogits, "float32", [B, 1, textCard])

  // Depformer (T = 1 per step, causal over this frame's steps; `gqa`: GroupQueryAttention there too).
  const dh = D / config.depformerNumHeads
  const dHeads = config.depformerNumHeads
  const keys: string[][] = Array.from({ length: config.depformerNumLayers }, () => [])
  const values: string[][] = Array.from({ length: config.depformerNumLayers }, () => [])
  /** Step k's attention over steps 0..k: batched MatMul + Softmax + MatMul over the concatenated keys. */
  const matmulStepAttention = (l: number, k: number, qkv: string) => {
    const [q, kk, vv] = split(qkv, [D, D, D])
    keys[l]!.push(kk!)
    values[l]!.push(vv!)
    const n = k + 1
    const kAll = n === 1 ? kk! : g.op("Concat", keys[l]!, { axis: 0 })
    const vAll = n === 1 ? vv! : g.op("Concat", values[l]!, { axis: 0 })
    const qh = g.op("Reshape", [q!, g.int64s([dHeads, 1, dh])])
    const kh = g.op("Transpose", [g.op("Reshape", [kAll, g.int64s([n, dHeads, dh])])], { perm: [1, 2, 0] })
    const vh = g.op("Transpose", [g.op("Reshape", [vAll, g.int64s([n, dHeads, dh])])], { perm: [1, 0, 2] })
    const p = g.op("Softmax", [g.op("Mul", [g.op("MatMul", [qh, kh]), g.scalar(1 / Math.sqrt(dh))])], {
      axis: -1,
    })
    return g.op("Reshape", [g.op("MatMul", [p, vh]), g.int64s([1, 1, D])])
  }
  /**
   * The same with one GroupQueryAttention (float32, no RoPE) over the layer's resident cache of this
   * frame's steps: every step reads and writes that one buffer in place (graph capture requires a
   * shared past/present buffer), attending to steps 0..k only, so what earlier frames left is never read.
   */
  const depformerCacheDims = [B, dHeads, S, dh]
  const depformerCaches = gqa
    ? Array.from({ length: config.depformerNumLayers }, (_, l) => [
        g.input(StepIo.depformerKeys(l), "float32", depformerCacheDims),
        g.input(StepIo.depformerValues(l), "float32", depformerCacheDims),
      ])
    : []
  const lengths = gqa
    ? Array.from({ length: S }, (_, k) => [
        g.constant("int32", [B], new Array(B).fill(k), `dep_seqlens_${k}`),
        g.constant("int32", [1], [k + 1], `dep_total_${k}`),
      ])
    : []
  const gqaStepAttention = (l: number, k: number, qkv: string) => {
    const [pastKeys, pastValues] = depformerCaches[l]!
    const [attended, present, presentValues] = g.msOp(
      "GroupQueryAttention",
      [qkv, "", "", pastKeys!, pastValues!, lengths[k]![0]!, lengths[k]![1]!],
      { num_heads: dHeads, kv_num_heads: dHeads, scale: Attr.float(1 / Math.sqrt(dh)) },
      3,
    )
    g.output(present!, StepIo.depformerKeysOut(l, k), "float32", depformerCacheDims)
    g.output(presentValues!, StepIo.depformerValuesOut(l, k), "float32", depformerCacheDims)
    const window = options.depformerWindow
    if (window === undefined || k + 1 <= window) return attended!
    // Steps k − window + 1..k only: a MatMul attention over that slice of the cache GQA just wrote.
    const recent = (v: string) =>
      g.op("Slice", [v, g.int64s([k + 1 - window]), g.int64s([k + 1]), g.int64s([2])])
    const q = g.op("Reshape", [
      g.op("Slice", [qkv, g.int64s([0]), g.int64s([D]), g.int64s([-1])]),
      g.int64s([B, dHeads, 1, dh]),
    ])
    const scores = g.op("Mul", [
      g.op("MatMul", [q, g.op("Transpose", [recent(present!)], { perm: [0, 1, 3, 2] })]),
      g.scalar(1 / Math.sqrt(dh)),
    ])
    const mixed = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), recent(presentValues!)])
    return g.op("Reshape", [g.op("Transpose", [mixed], { perm: [0, 2, 1, 3] }), g.int64s([B, 1, D])])
  }
  const stepAttention = gqa ? gqaStepAttention : matmulStepAttention
  let prev = textToken
  const audioLogits: string[] = []
  for (let k = 0; k < S; k++) {
    const emb = embedToken(k === 0 ? "d.text_emb" : `d.emb${k - 1}`, prev)
    let [y, yNormed] = addNorm(linear(hidden, `d${k}.in`), emb, "d0.norm1", D)
    for (let l = 0; l < config.depformerNumLayers; l++) {
      const attn = stepAttention(l, k, linear(yNormed, `d${l}.${k}.qkv`))
      const [attended, normed2] = addNorm(y, linear(attn, `d${l}.${k}.out`), `d${l}.norm2`, D)
      const ffn = gatedFfn(normed2, `d${l}.${k}`)
      if (l + 1 < config.depformerNumLayers) [y, yNormed] = addNorm(attended, ffn, `d${l + 1}.norm1`, D)
      else y = g.op("Add", [attended, ffn])
    }
    const logits = linear(y, `d${k}.head`)
    audioLogits.push(logits)
    const noise = g.op("Gather", [audioNoise, g.int64s([k])], { axis: B > 1 ? 1 : 0 })
    prev = sample(logits, noise, audioTopK, card)
    tokenValues.push(tokenValue(prev))
  }
  g.output(g.op("Concat", tokenValues, { axis: 1 }), StepIo.tokens, "float32", [B, 1 + S])
  if (options.outputLogits) {
    const all = g.op("Concat", audioLogits, { axis: 1 })
    g.output(g.op("Max", [all, all]), StepIo.audioLogits, "float32", [B, S, card])
  }
  if (options.codesOnDevice) {
    const half = config.nQ / 2
    const agent = g.op("Reshape", [
      g.op("Concat", tokenValues.slice(1, 1 + half), { axis: 1 }),
      g.int64s([half]),
    ])
    g.output(g.op("Cast", [agent], { to: 6 }), StepIo.agentCodes, "int32", [half])
  }
  return withoutOutputIdentities(g)
}

/**
 * A sampled token as its row and column (int64 `[1]` each) in a `rows × cols` grid of the vocabulary;
 * `batched`: `row` is each session's token, int64 `[batch, 1]`, in a vocabulary of `cols`.
 */
interface SampledToken {
  readonly row: string
  readonly column: string
  readonly rows: number
  readonly cols: number
  readonly batched?: boolean
}

interface MutableNode {
  opType?: string | null
  name?: string | null
  input?: string[] | null
  output?: string[] | null
}

/**
 * `GraphBuilder.output` renames a value through an Identity node, which a GPU provider may lack
 * for the opset: rename the producer's output instead (its readers follow). Reaches into the
 * builder's node list, as the builder has no API for naming an op's output.
 */
const withoutOutputIdentities = (g: GraphBuilder): GraphBuilder => {
  const nodes = (g as unknown as { nodes: MutableNode[] }).nodes
  const produced = new Set(nodes.filter((n) => n.opType !== "Identity").flatMap((n) => n.output ?? []))
  const renames = new Map<string, string>()
  for (const node of nodes)
    if (node.opType === "Identity" && node.name?.startsWith("out_") && produced.has(node.input?.[0] ?? ""))
      renames.set(node.input![0]!, node.output![0]!)
  const kept = nodes.filter((n) => !(n.opType === "Identity" && renames.has(n.input?.[0] ?? "")))
  for (const node of kept) {
    node.input = (node.input ?? []).map((v) => renames.get(v) ?? v)
    node.output = (node.output ?? []).map((v) => renames.get(v) ?? v)
  }
  nodes.length = 0
  nodes.push(...kept)
  return g
}

/**
 * The sliding cache's move (windowed `gqa`): every temporal layer's keys and values, frames
 * `[from, from + keep)` copied to `[0, keep)` in place, the rest left as it was (hidden by the window
 * bias until overwritten). Run once each time the cache fills, so a frame costs no copy.
 */
export const buildShiftGraph = (
  config: LmConfig,
  options: {
    readonly capacity: number
    readonly keep: number
    readonly kvCache: KvCacheType
    /** Rows of the cache (default 1): each moves by its own `shiftRow(b)` input. */
    readonly batch?: number
  },
): GraphBuilder => {
  const g = new GraphBuilder("moshi_kv_shift", 18)
  const { capacity, keep, kvCache } = options
  const batch = options.batch ?? 1
  if (batch > 1) return buildBatchShiftGraph(config, { capacity, keep, kvCache, batch })
  const dims = [1, config.numHeads, capacity, config.dim / config.numHeads]
  // Both ends fed: an int64 Add would run on the CPU, which a GPU session without fallback refuses.
  const from = g.input(StepIo.shiftFrom, "int64", [1])
  const until = g.input(StepIo.shiftUntil, "int64", [1])
  const moved = (cache: string) =>
    g.op(
      "Concat",
      [
        g.op("Slice", [cache, from, until, g.int64s([2])]),
        g.op("Slice", [cache, g.int64s([keep]), g.int64s([capacity]), g.int64s([2])]),
      ],
      { axis: 2 },
    )
  for (let l = 0; l < config.numLayers; l++) {
    g.output(moved(g.input(StepIo.keys(l), kvCache, dims)), StepIo.keysOut(l), kvCache, dims)
    g.output(moved(g.input(StepIo.values(l), kvCache, dims)), StepIo.valuesOut(l), kvCache, dims)
  }
  return withoutOutputIdentities(g)
}

/**
 * The sliding cache's move for `batch` rows: row b's frames `[from_b, from_b + keep)` copied to its
 * front, from its input `shiftRow(b)` = int64 `[b, from_b]` (`from_b` 0: the row stays as it was).
 */
const buildBatchShiftGraph = (
  config: LmConfig,
  options: {
    readonly capacity: number
    readonly keep: number
    readonly kvCache: KvCacheType
    readonly batch: number
  },
): GraphBuilder => {
  const g = new GraphBuilder("moshi_kv_shift_batch", 18)
  const { capacity, keep, kvCache, batch } = options
  const dims = [batch, config.numHeads, capacity, config.dim / config.numHeads]
  const starts = Array.from({ length: batch }, (_, b) => g.input(StepIo.shiftRow(b), "int64", [2]))
  const ends = Array.from({ length: batch }, (_, b) => g.input(StepIo.shiftRowEnd(b), "int64", [2]))
  const axes = g.int64s([0, 2])
  const moved = (cache: string) =>
    g.op(
      "Concat",
      Array.from({ length: batch }, (_, b) =>
        g.op(
          "Concat",
          [
            g.op("Slice", [cache, starts[b]!, ends[b]!, axes]),
            g.op("Slice", [cache, g.int64s([b, keep]), g.int64s([b + 1, capacity]), axes]),
          ],
          { axis: 2 },
        ),
      ),
      { axis: 0 },
    )
  for (let l = 0; l < config.numLayers; l++) {
    g.output(moved(g.input(StepIo.keys(l), kvCache, dims)), StepIo.keysOut(l), kvCache, dims)
    g.output(moved(g.input(StepIo.values(l), kvCache, dims)), StepIo.valuesOut(l), kvCache, dims)
  }
  return withoutOutputIdentities(g)
}

/**
 * A batch grown from `from` rows to `rows`: every temporal cache of the larger batch gets the smaller
 * one's rows (input `StepIo.grownFrom(name)`) in its first rows, in place; its other rows stay.
 */
export const buildGrowGraph = (
  config: LmConfig,
  options: {
    readonly from: number
    readonly rows: number
    readonly slots: number
    readonly kvCache: KvCacheType
  },
): GraphBuilder => {
  const g = new GraphBuilder("moshi_kv_grow", 18)
  const { from, rows, slots, kvCache } = options
  const dims = (n: number) => [n, config.numHeads, slots, config.dim / config.numHeads]
  const grown = (name: string, output: string) => {
    const cache = g.input(name, kvCache, dims(rows))
    const rest = g.op("Slice", [cache, g.int64s([from]), g.int64s([rows]), g.int64s([0])])
    const copied = g.op("Concat", [g.input(StepIo.grownFrom(name), kvCache, dims(from)), rest], { axis: 0 })
    g.output(copied, output, kvCache, dims(rows))
  }
  for (let l = 0; l < config.numLayers; l++) {
    grown(StepIo.keys(l), StepIo.keysOut(l))
    grown(StepIo.values(l), StepIo.valuesOut(l))
  }
  return withoutOutputIdentities(g)
}
