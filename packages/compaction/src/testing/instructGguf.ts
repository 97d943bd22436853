// Random-weight GGUF models of real small instruct architectures at their real sizes and quantization
// mixes, for measuring memory and speed where no real model can be downloaded. The text they write is
// noise; the shapes, tensor types, vocabulary size and chat template are the real models'.
import { SCENARIOS } from "../harness/scenarios.ts"
import { defaultInstructions } from "../promptTemplate.ts"
import {
  GGML_TYPES,
  type GgmlType,
  type GgufTensorSource,
  type GgufValue,
  tensorBytes,
  writeGgufStream,
} from "./gguf.ts"
import { randomBlocks } from "./randomBlocks.ts"

/** A Qwen2 decoder's shape (`qwen2` in llama.cpp: attention biases, tied embeddings). */
export interface InstructShape {
  readonly embedding: number
  readonly layers: number
  readonly heads: number
  readonly kvHeads: number
  readonly feedForward: number
  readonly vocab: number
  readonly contextLength: number
}

/** Qwen2.5-1.5B-Instruct and Qwen2.5-3B-Instruct (their `config.json`). */
export const INSTRUCT_MODELS = {
  "qwen2.5-1.5b": {
    embedding: 1536,
    layers: 28,
    heads: 12,
    kvHeads: 2,
    feedForward: 8960,
    vocab: 151936,
    contextLength: 32768,
  },
  "qwen2.5-3b": {
    embedding: 2048,
    layers: 36,
    heads: 16,
    kvHeads: 2,
    feedForward: 11008,
    vocab: 151936,
    contextLength: 32768,
  },
} as const satisfies Record<string, InstructShape>

export type InstructModel = keyof typeof INSTRUCT_MODELS

/** llama.cpp's file types: `Q4_K_M` (Q4_K, with Q6_K where llama-quantize puts it) and `Q8_0`. */
export type InstructQuantization = "Q4_K_M" | "Q8_0"

const FILE_TYPE: Record<InstructQuantization, number> = { Q4_K_M: 15, Q8_0: 7 }

/** llama-quantize's `use_more_bits`: the first and last eighth of the layers and every third between. */
const useMoreBits = (layer: number, layers: number) =>
  layer < layers / 8 || layer >= (7 * layers) / 8 || (layer - Math.floor(layers / 8)) % 3 === 2

/** The type llama-quantize gives a weight matrix (llama_tensor_get_type, Qwen2: no output tensor). */
const matrixType = (
  quantization: InstructQuantization,
  role: "embedding" | "attn_v" | "ffn_down" | "other",
  layer: number,
  layers: number,
): GgmlType => {
  if (quantization === "Q8_0") return "Q8_0"
  // Tied embeddings: token_embd is the output tensor, which Q4_K_M keeps at Q6_K.
  if (role === "embedding") return "Q6_K"
  if ((role === "attn_v" || role === "ffn_down") && useMoreBits(layer, layers)) return "Q6_K"
  return "Q4_K"
}

/** GPT-2's byte-to-unicode map of byte-level BPE vocabularies. */
const byteCharacters = (): Array<string> => {
  const printable: Array<number> = []
  for (let b = 33; b <= 126; b++) printable.push(b)
  for (let b = 161; b <= 172; b++) printable.push(b)
  for (let b = 174; b <= 255; b++) printable.push(b)
  const chars = new Array<string>(256)
  let extra = 0
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++)
  return chars
}

const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const

const TOKEN_TYPE = { normal: 1, control: 3 } as const

/** Qwen2.5's chat format (ChatML), without its tool-calling branches. */
const CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/** Words a compaction request is made of: whole tokens, as common English words are in a real 150k vocabulary. */
const commonWords = (): Array<string> => {
  const text = [
    defaultInstructions(200, "json"),
    defaultInstructions(200, "text"),
    ...SCENARIOS.flatMap((s) => [
      s.basePersona,
      ...[...s.windows, ...s.filler].flatMap((w) => [w.userText ?? "", w.agentText]),
    ]),
    "User Assistant said Conversation so far Previous system prompt Base persona window",
  ].join(" ")
  return [...new Set(text.match(/[A-Za-z]+|[0-9]+/g) ?? [])]
}

/**
 * A byte-level BPE vocabulary of `size` tokens that llama.cpp loads as `gpt2` / `qwen2`: the 256 byte
 * tokens, every common word after a space built by merges, then two- and
 * three-character pieces up to `size` less the special tokens, which come last (as Qwen2.5's do).
 */
const bpeVocabulary = (size: number) => {
  const bytes = byteCharacters()
  const tokens: Array<string> = [...bytes]
  const known = new Set(tokens)
  const merges: Array<string> = []
  const regular = size - SPECIAL_TOKENS.length
  const add = (left: string, right: string) => {
    const token = left + right
    if (known.has(token) || tokens.length >= regular) return
    known.add(token)
    tokens.push(token)
    merges.push(`${left} ${right}`)
  }
  // Each word after a space is a chain of merges onto its space-led prefix: only one such pair can
  // apply inside a word at a time, and every piece below ranks later, so the word comes out whole.
  const space = bytes[32]!
  for (const word of commonWords()) {
    let piece = space
    for (const ch of word) {
      add(piece, ch)
      piece += ch
    }
  }
  const alphabet = [space, ..."etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789.,'"]
  for (const a of alphabet) for (const b of alphabet) add(a, b)
  outer: for (const a of alphabet)
    for (const b of alphabet)
      for (const c of alphabet) {
        if (tokens.length >= regular) break outer
        if (known.has(a + b)) add(a + b, c)
      }
  // Never short of the size (a tiny test vocabulary stops early): numbered filler pieces.
  for (let i = 0; tokens.length < regular; i++) add(`${space}x`, String(i))
  const types: Array<number> = tokens.map(() => TOKEN_TYPE.normal)
  for (const special of SPECIAL_TOKENS) {
    tokens.push(special)
    types.push(TOKEN_TYPE.control)
  }
  return { tokens, types, merges }
}

export interface InstructGgufOptions {
  readonly model: InstructModel
  readonly quantization: InstructQuantization
  /** Replace parts of the real shape (tests use a few-MB model of the same layout). */
  readonly shape?: Partial<InstructShape>
  readonly seed?: number
}

export interface InstructGguf {
  readonly path: string
  readonly bytes: number
  readonly parameters: number
  readonly shape: InstructShape
  readonly name: string
}

/** Random blocks per quantized type that every tensor of that type repeats from its own offset (a few MB). */
const TEMPLATE_BLOCKS = 16384

/** Write the random model to `path` (streamed: a 3 GB file needs a few MB of memory). */
export const writeInstructGguf = (path: string, options: InstructGgufOptions): InstructGguf => {
  const shape: InstructShape = { ...INSTRUCT_MODELS[options.model], ...options.shape }
  const { embedding, layers, heads, kvHeads, feedForward, vocab } = shape
  const headDim = embedding / heads
  const kvDim = kvHeads * headDim
  const seed = options.seed ?? 1
  const templates = new Map<GgmlType, Uint8Array>()
  const template = (type: GgmlType) => {
    let bytes = templates.get(type)
    if (bytes === undefined) {
      bytes =
        type === "F32" || type === "F16"
          ? new Uint8Array(0)
          : randomBlocks(type, TEMPLATE_BLOCKS, seed + templates.size)
      templates.set(type, bytes)
    }
    return bytes
  }
  let parameters = 0
  let tensorIndex = 0
  const tensors: Array<GgufTensorSource> = []
  const matrix = (name: string, dims: [number, number], type: GgmlType) => {
    parameters += dims[0] * dims[1]
    // Each tensor starts at its own block of the template, so tensors differ.
    const startBlock = (tensorIndex++ * 7919) % TEMPLATE_BLOCKS
    tensors.push({
      name,
      dims,
      type,
      chunks: function* () {
        const source = template(type)
        let left = tensorBytes(type, dims)
        let at = startBlock * GGML_TYPES[type].blockBytes
        while (left > 0) {
          const n = Math.min(left, source.length - at)
          yield source.subarray(at, at + n)
          left -= n
          at = 0
        }
      },
    })
  }
  const vector = (name: string, length: number, value: number) => {
    parameters += length
    tensors.push({
      name,
      dims: [length],
      type: "F32",
      chunks: function* () {
        yield new Uint8Array(new Float32Array(length).fill(value).buffer)
      },
    })
  }
  const q = options.quantization
  matrix("token_embd.weight", [embedding, vocab], matrixType(q, "embedding", 0, layers))
  vector("output_norm.weight", embedding, 1)
  for (let l = 0; l < layers; l++) {
    const blk = `blk.${l}`
    vector(`${blk}.attn_norm.weight`, embedding, 1)
    matrix(`${blk}.attn_q.weight`, [embedding, embedding], matrixType(q, "other", l, layers))
    vector(`${blk}.attn_q.bias`, embedding, 0)
    matrix(`${blk}.attn_k.weight`, [embedding, kvDim], matrixType(q, "other", l, layers))
    vector(`${blk}.attn_k.bias`, kvDim, 0)
    matrix(`${blk}.attn_v.weight`, [embedding, kvDim], matrixType(q, "attn_v", l, layers))
    vector(`${blk}.attn_v.bias`, kvDim, 0)
    matrix(`${blk}.attn_output.weight`, [embedding, embedding], matrixType(q, "other", l, layers))
    vector(`${blk}.ffn_norm.weight`, embedding, 1)
    matrix(`${blk}.ffn_gate.weight`, [embedding, feedForward], matrixType(q, "other", l, layers))
    matrix(`${blk}.ffn_up.weight`, [embedding, feedForward], matrixType(q, "other", l, layers))
    matrix(`${blk}.ffn_down.weight`, [feedForward, embedding], matrixType(q, "ffn_down", l, layers))
  }
  const vocabulary = bpeVocabulary(vocab)
  const u32 = (value: number): GgufValue => ({ type: "u32", value })
  const name = `${options.model}-instruct-random-${q}`
  const metadata: ReadonlyArray<readonly [string, GgufValue]> = [
    ["general.architecture", { type: "string", value: "qwen2" }],
    ["general.name", { type: "string", value: name }],
    ["general.file_type", u32(FILE_TYPE[q])],
    ["general.quantization_version", u32(2)],
    ["general.alignment", u32(32)],
    ["qwen2.context_length", u32(shape.contextLength)],
    ["qwen2.embedding_length", u32(embedding)],
    ["qwen2.block_count", u32(layers)],
    ["qwen2.feed_forward_length", u32(feedForward)],
    ["qwen2.attention.head_count", u32(heads)],
    ["qwen2.attention.head_count_kv", u32(kvHeads)],
    ["qwen2.rope.freq_base", { type: "f32", value: 1_000_000 }],
    ["qwen2.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-6 }],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "qwen2" }],
    ["tokenizer.ggml.tokens", { type: "array", of: "string", value: vocabulary.tokens }],
    ["tokenizer.ggml.token_type", { type: "array", of: "i32", value: vocabulary.types }],
    ["tokenizer.ggml.merges", { type: "array", of: "string", value: vocabulary.merges }],
    ["tokenizer.ggml.eos_token_id", u32(vocab - SPECIAL_TOKENS.length + 2)],
    ["tokenizer.ggml.padding_token_id", u32(vocab - SPECIAL_TOKENS.length)],
    ["tokenizer.ggml.bos_token_id", u32(vocab - SPECIAL_TOKENS.length)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: CHAT_TEMPLATE }],
  ]
  const bytes = writeGgufStream(path, metadata, tensors)
  return { path, bytes, parameters, shape, name }
}
