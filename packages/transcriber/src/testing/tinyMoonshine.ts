// A random-weight Moonshine of a few thousand parameters, written as the folder transformers.js loads
// (config, tokenizer, preprocessor, `onnx/encoder_model.onnx`, `onnx/decoder_model_merged.onnx`), so
// tests run the real loading and decoding path. The graphs follow Hugging Face's MoonshineModel: a
// convolution stem over the raw 16 kHz waveform (stride 384), pre-norm transformer layers with rotary
// positions, a decoder with self- and cross-attention and a SwiGLU MLP, and the merged decoder's
// inputs and outputs (`past_key_values.N.{decoder,encoder}.{key,value}`, `use_cache_branch`,
// `present.N.*`). Its text is noise: tests assert structure, not words.
import * as fs from "node:fs"
import * as path from "node:path"
import { GraphBuilder, makeRng } from "@personaplex/runtime"

export interface TinyMoonshineOptions {
  readonly seed?: number
  readonly hidden?: number
  readonly heads?: number
  readonly encoderLayers?: number
  readonly decoderLayers?: number
  readonly intermediate?: number
}

export interface TinyMoonshine {
  readonly folder: string
  readonly vocabSize: number
  /** Every file written, relative to the folder. */
  readonly files: ReadonlyArray<string>
}

// Special tokens first (Moonshine's ids: <unk> 0, <s> 1, </s> 2), then SentencePiece-style pieces.
const SPECIAL = ["<unk>", "<s>", "</s>"]
const PIECES = [
  "▁",
  ..."abcdefghijklmnopqrstuvwxyz".split(""),
  "▁the",
  "▁a",
  "▁to",
  "▁and",
  "▁of",
  "▁is",
  "▁it",
  "▁you",
  "ing",
  "ed",
  "er",
]

const tokenizerJson = (vocab: ReadonlyArray<string>) => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: SPECIAL.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: null,
  pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
  post_processor: null,
  decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
  model: {
    type: "BPE",
    dropout: null,
    unk_token: "<unk>",
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: false,
    vocab: Object.fromEntries(vocab.map((piece, id) => [piece, id])),
    merges: [],
  },
})

// A few kilobytes of weights: kept inside the .onnx files (no side file).
const INLINE = { externalThreshold: Number.POSITIVE_INFINITY }

const writeJson = (file: string, value: unknown) =>
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)

interface Dims {
  readonly hidden: number
  readonly heads: number
  readonly headDim: number
  readonly intermediate: number
  readonly vocab: number
}

/** Builders shared by the two graphs; weights come from one seeded generator. */
class Layers {
  readonly g: GraphBuilder
  readonly d: Dims
  private readonly rng: () => number

  constructor(g: GraphBuilder, d: Dims, rng: () => number) {
    this.g = g
    this.d = d
    this.rng = rng
  }

  weight(name: string, dims: ReadonlyArray<number>, scale = 0.5): string {
    const n = dims.reduce((a, b) => a * b, 1)
    const fanIn = dims.length > 1 ? n / dims[0]! : n
    const data = Float32Array.from({ length: n }, () => (this.rng() * scale * 2) / Math.sqrt(fanIn))
    return this.g.initializer(name, { type: "float32", dims, data })
  }

  ones(name: string, size: number): string {
    return this.g.initializer(name, { type: "float32", dims: [size], data: new Float32Array(size).fill(1) })
  }

  /** `x @ W^T` with PyTorch's `[out, in]` layout, stored transposed for MatMul. */
  linear(name: string, x: string, inSize: number, outSize: number, bias = false): string {
    const w = this.weight(`${name}.weight`, [inSize, outSize])
    const y = this.g.op("MatMul", [x, w])
    return bias ? this.g.op("Add", [y, this.weight(`${name}.bias`, [outSize], 0.1)]) : y
  }

  layerNorm(name: string, x: string): string {
    return this.g.op("LayerNormalization", [x, this.ones(`${name}.weight`, this.d.hidden)], {
      axis: -1,
      epsilon: 1e-5,
    })
  }

  gelu(x: string): string {
    const g = this.g
    const erf = g.op("Erf", [g.op("Mul", [x, g.scalar(Math.SQRT1_2)])])
    return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [erf, g.scalar(1)])])
  }

  /** `[B, T, H·D]` → `[B, H, T, D]`. */
  splitHeads(x: string): string {
    const g = this.g
    const shaped = g.op("Reshape", [x, g.int64s([0, 0, this.d.heads, this.d.headDim])])
    return g.op("Transpose", [shaped], { perm: [0, 2, 1, 3] })
  }

  mergeHeads(x: string): string {
    const g = this.g
    const t = g.op("Transpose", [x], { perm: [0, 2, 1, 3] })
    return g.op("Reshape", [t, g.int64s([0, 0, this.d.hidden])])
  }

  /** cos and sin `[T, D]` for positions `offset … offset+T−1` (`offset`, `length`: int64 scalars). */
  rotaryTables(offset: string, length: string): { cos: string; sin: string } {
    const g = this.g
    const end = g.op("Add", [offset, length])
    const positions = g.op("Cast", [g.op("Range", [offset, end, g.scalar(1, "int64")])], { to: 1 })
    const half = this.d.headDim / 2
    const invFreq = g.constant(
      "float32",
      [1, half],
      Array.from({ length: half }, (_, i) => 1 / 10000 ** ((2 * i) / this.d.headDim)),
    )
    const freqs = g.op("Mul", [g.op("Unsqueeze", [positions, g.int64s([1])]), invFreq])
    const emb = g.op("Concat", [freqs, freqs], { axis: 1 })
    return { cos: g.op("Cos", [emb]), sin: g.op("Sin", [emb]) }
  }

  /** `x·cos + rotate_half(x)·sin` on `[B, H, T, D]`. */
  rotate(x: string, rope: { cos: string; sin: string }): string {
    const g = this.g
    const half = this.d.headDim / 2
    const [x1, x2] = g.opMulti("Split", [x, g.int64s([half, half])], 2, { axis: -1 })
    const rotated = g.op("Concat", [g.op("Neg", [x2!]), x1!], { axis: -1 })
    return g.op("Add", [g.op("Mul", [x, rope.cos]), g.op("Mul", [rotated, rope.sin])])
  }

  /** softmax(q·kᵀ/√D + mask)·v on `[B, H, *, D]`. */
  attend(q: string, k: string, v: string, mask?: string): string {
    const g = this.g
    const kT = g.op("Transpose", [k], { perm: [0, 1, 3, 2] })
    let scores = g.op("Mul", [g.op("MatMul", [q, kT]), g.scalar(1 / Math.sqrt(this.d.headDim))])
    if (mask) scores = g.op("Add", [scores, mask])
    return g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), v])
  }
}

const seqLength = (g: GraphBuilder, x: string, axis: number): string =>
  g.op("Squeeze", [g.op("Shape", [x], { start: axis, end: axis + 1 }), g.int64s([0])])

const buildEncoder = (d: Dims, layers: number, rng: () => number): GraphBuilder => {
  const g = new GraphBuilder("moonshine_encoder")
  const l = new Layers(g, d, rng)
  const audio = g.input("input_values", "float32", ["batch_size", "num_samples"])
  // Stem: Conv(1→h, 127, stride 64, no bias), tanh, GroupNorm(1 group); Conv(h→2h, 7, 3)+GELU; Conv(2h→h, 3, 2)+GELU.
  let x = g.op("Unsqueeze", [audio, g.int64s([1])])
  x = g.op("Conv", [x, l.weight("conv1.weight", [d.hidden, 1, 127])], { strides: [64] })
  x = g.op("Tanh", [x])
  const mean = g.op("ReduceMean", [x, g.int64s([1, 2])], { keepdims: 1 })
  const centred = g.op("Sub", [x, mean])
  const variance = g.op("ReduceMean", [g.op("Mul", [centred, centred]), g.int64s([1, 2])], { keepdims: 1 })
  x = g.op("Div", [centred, g.op("Sqrt", [g.op("Add", [variance, g.scalar(1e-5)])])])
  x = g.op("Mul", [x, g.constant("float32", [d.hidden, 1], new Float32Array(d.hidden).fill(1))])
  x = l.gelu(
    g.op(
      "Conv",
      [x, l.weight("conv2.weight", [2 * d.hidden, d.hidden, 7]), l.weight("conv2.bias", [2 * d.hidden])],
      {
        strides: [3],
      },
    ),
  )
  x = l.gelu(
    g.op(
      "Conv",
      [x, l.weight("conv3.weight", [d.hidden, 2 * d.hidden, 3]), l.weight("conv3.bias", [d.hidden])],
      {
        strides: [2],
      },
    ),
  )
  x = g.op("Transpose", [x], { perm: [0, 2, 1] })
  const rope = l.rotaryTables(g.scalar(0, "int64"), seqLength(g, x, 1))
  for (let i = 0; i < layers; i++) {
    const p = `layers.${i}`
    const h = l.layerNorm(`${p}.input_layernorm`, x)
    const q = l.rotate(l.splitHeads(l.linear(`${p}.self_attn.q_proj`, h, d.hidden, d.hidden)), rope)
    const k = l.rotate(l.splitHeads(l.linear(`${p}.self_attn.k_proj`, h, d.hidden, d.hidden)), rope)
    const v = l.splitHeads(l.linear(`${p}.self_attn.v_proj`, h, d.hidden, d.hidden))
    const attn = l.linear(`${p}.self_attn.o_proj`, l.mergeHeads(l.attend(q, k, v)), d.hidden, d.hidden)
    x = g.op("Add", [x, attn])
    const m = l.layerNorm(`${p}.post_attention_layernorm`, x)
    const up = l.gelu(l.linear(`${p}.mlp.fc1`, m, d.hidden, d.intermediate, true))
    x = g.op("Add", [x, l.linear(`${p}.mlp.fc2`, up, d.intermediate, d.hidden, true)])
  }
  g.output(l.layerNorm("layer_norm", x), "last_hidden_state", "float32", [
    "batch_size",
    "encoder_sequence_length",
    d.hidden,
  ])
  return g
}

const buildDecoder = (d: Dims, layers: number, rng: () => number): GraphBuilder => {
  const g = new GraphBuilder("moonshine_decoder_merged")
  const l = new Layers(g, d, rng)
  const ids = g.input("input_ids", "int64", ["batch_size", "decoder_sequence_length"])
  const encoder = g.input("encoder_hidden_states", "float32", [
    "batch_size",
    "encoder_sequence_length",
    d.hidden,
  ])
  const pastDims = (length: string) => ["batch_size", d.heads, length, d.headDim]
  const past = Array.from({ length: layers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.decoder.key`, "float32", pastDims("past_decoder_sequence_length")),
    value: g.input(`past_key_values.${i}.decoder.value`, "float32", pastDims("past_decoder_sequence_length")),
  }))
  // The exported merged decoder also takes the cached cross-attention keys and the branch flag; a
  // graph without an If recomputes cross-attention from `encoder_hidden_states` (same values).
  for (let i = 0; i < layers; i++) {
    g.input(`past_key_values.${i}.encoder.key`, "float32", pastDims("encoder_sequence_length_out"))
    g.input(`past_key_values.${i}.encoder.value`, "float32", pastDims("encoder_sequence_length_out"))
  }
  g.input("use_cache_branch", "bool", [1])

  let x = g.op("Gather", [l.weight("embed_tokens.weight", [d.vocab, d.hidden], 2), ids])
  const pastLength = seqLength(g, past[0]!.key, 2)
  const length = seqLength(g, ids, 1)
  const rope = l.rotaryTables(pastLength, length)
  // Causal mask over past + new positions: new token t sees every past slot and new slots ≤ t.
  const total = g.op("Add", [pastLength, length])
  const square = g.op(
    "ConstantOfShape",
    [
      g.op(
        "Concat",
        [g.op("Unsqueeze", [length, g.int64s([0])]), g.op("Unsqueeze", [total, g.int64s([0])])],
        { axis: 0 },
      ),
    ],
    {
      value: { kind: "tensor", value: { type: "float32", dims: [1], data: new Float32Array([1]) } },
    },
  )
  const visible = g.op("Trilu", [square, pastLength], { upper: 0 })
  const mask = g.op("Mul", [g.op("Sub", [g.scalar(1), visible]), g.scalar(-1e9)])

  for (let i = 0; i < layers; i++) {
    const p = `layers.${i}`
    const h = l.layerNorm(`${p}.input_layernorm`, x)
    const q = l.rotate(l.splitHeads(l.linear(`${p}.self_attn.q_proj`, h, d.hidden, d.hidden)), rope)
    const kNew = l.rotate(l.splitHeads(l.linear(`${p}.self_attn.k_proj`, h, d.hidden, d.hidden)), rope)
    const vNew = l.splitHeads(l.linear(`${p}.self_attn.v_proj`, h, d.hidden, d.hidden))
    const k = g.op("Concat", [past[i]!.key, kNew], { axis: 2 })
    const v = g.op("Concat", [past[i]!.value, vNew], { axis: 2 })
    g.output(k, `present.${i}.decoder.key`, "float32", pastDims("total_decoder_sequence_length"))
    g.output(v, `present.${i}.decoder.value`, "float32", pastDims("total_decoder_sequence_length"))
    x = g.op("Add", [
      x,
      l.linear(`${p}.self_attn.o_proj`, l.mergeHeads(l.attend(q, k, v, mask)), d.hidden, d.hidden),
    ])

    const c = l.layerNorm(`${p}.post_attention_layernorm`, x)
    const cq = l.splitHeads(l.linear(`${p}.encoder_attn.q_proj`, c, d.hidden, d.hidden))
    const ck = l.splitHeads(l.linear(`${p}.encoder_attn.k_proj`, encoder, d.hidden, d.hidden))
    const cv = l.splitHeads(l.linear(`${p}.encoder_attn.v_proj`, encoder, d.hidden, d.hidden))
    g.output(ck, `present.${i}.encoder.key`, "float32", pastDims("encoder_sequence_length_out"))
    g.output(cv, `present.${i}.encoder.value`, "float32", pastDims("encoder_sequence_length_out"))
    x = g.op("Add", [
      x,
      l.linear(`${p}.encoder_attn.o_proj`, l.mergeHeads(l.attend(cq, ck, cv)), d.hidden, d.hidden),
    ])

    const m = l.layerNorm(`${p}.final_layernorm`, x)
    const [value, gate] = g.opMulti(
      "Split",
      [
        l.linear(`${p}.mlp.fc1`, m, d.hidden, 2 * d.intermediate, true),
        g.int64s([d.intermediate, d.intermediate]),
      ],
      2,
      { axis: -1 },
    )
    const swiglu = g.op("Mul", [g.op("Mul", [gate!, g.op("Sigmoid", [gate!])]), value!])
    x = g.op("Add", [x, l.linear(`${p}.mlp.fc2`, swiglu, d.intermediate, d.hidden, true)])
  }
  const logits = l.linear("proj_out", l.layerNorm("norm", x), d.hidden, d.vocab)
  g.output(logits, "logits", "float32", ["batch_size", "decoder_sequence_length", d.vocab])
  return g
}

/** Writes a tiny random Moonshine into `folder` (created if missing) in the layout transformers.js reads. */
export const writeTinyMoonshine = (folder: string, options: TinyMoonshineOptions = {}): TinyMoonshine => {
  const hidden = options.hidden ?? 16
  const heads = options.heads ?? 2
  const encoderLayers = options.encoderLayers ?? 1
  const decoderLayers = options.decoderLayers ?? 1
  const vocab = [...SPECIAL, ...PIECES]
  const dims: Dims = {
    hidden,
    heads,
    headDim: hidden / heads,
    intermediate: options.intermediate ?? 2 * hidden,
    vocab: vocab.length,
  }
  const rng = makeRng(options.seed ?? 24)
  fs.mkdirSync(path.join(folder, "onnx"), { recursive: true })
  writeJson(path.join(folder, "config.json"), {
    architectures: ["MoonshineForConditionalGeneration"],
    model_type: "moonshine",
    is_encoder_decoder: true,
    vocab_size: dims.vocab,
    hidden_size: hidden,
    intermediate_size: dims.intermediate,
    encoder_num_hidden_layers: encoderLayers,
    decoder_num_hidden_layers: decoderLayers,
    encoder_num_attention_heads: heads,
    decoder_num_attention_heads: heads,
    encoder_num_key_value_heads: heads,
    decoder_num_key_value_heads: heads,
    encoder_hidden_act: "gelu",
    decoder_hidden_act: "silu",
    max_position_embeddings: 194,
    partial_rotary_factor: 1,
    rope_theta: 10000,
    bos_token_id: 1,
    eos_token_id: 2,
    decoder_start_token_id: 1,
    pad_token_id: 0,
  })
  writeJson(path.join(folder, "generation_config.json"), {
    bos_token_id: 1,
    decoder_start_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    max_length: 194,
  })
  writeJson(path.join(folder, "preprocessor_config.json"), {
    processor_class: "MoonshineProcessor",
    feature_extractor_type: "MoonshineFeatureExtractor",
    feature_size: 1,
    sampling_rate: 16000,
    padding_value: 0,
    do_normalize: false,
    return_attention_mask: false,
  })
  writeJson(path.join(folder, "tokenizer.json"), tokenizerJson(vocab))
  writeJson(path.join(folder, "tokenizer_config.json"), {
    tokenizer_class: "LlamaTokenizer",
    bos_token: "<s>",
    eos_token: "</s>",
    unk_token: "<unk>",
    add_bos_token: false,
    add_eos_token: false,
    model_max_length: 194,
  })
  buildEncoder(dims, encoderLayers, rng).save(path.join(folder, "onnx", "encoder_model.onnx"), INLINE)
  buildDecoder(dims, decoderLayers, rng).save(path.join(folder, "onnx", "decoder_model_merged.onnx"), INLINE)
  const files = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    ...fs.readdirSync(path.join(folder, "onnx")).map((f) => `onnx/${f}`),
  ]
  return { folder, vocabSize: dims.vocab, files }
}
