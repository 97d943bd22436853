// A random-weight llama-architecture GGUF small enough to write in a test (about 0.6 MB) and load
// in node-llama-cpp in milliseconds. Its output is noise: use it to test plumbing, not content.
import { type GgufTensor, type GgufValue, writeGguf } from "./gguf.ts"

export interface TinyLlamaOptions {
  readonly seed?: number
  /** Default 1024. */
  readonly contextLength?: number
  readonly embedding?: number
  readonly layers?: number
}

export interface TinyLlama {
  readonly path: string
  readonly vocabSize: number
  readonly contextLength: number
}

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const

/**
 * SentencePiece-style vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte-fallback tokens `<0xXX>`,
 * then single characters and "▁" + letter pieces, so that plain English tokenises without bytes.
 */
const vocabulary = () => {
  const tokens: Array<string> = ["<unk>", "<s>", "</s>"]
  const types: Array<number> = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control]
  const scores: Array<number> = [0, 0, 0]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)
    types.push(TOKEN_TYPE.byte)
    scores.push(0)
  }
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
  const singles = `▁${letters}0123456789.,;:!?'"-()[]{}<>/@#&*+=_`
  for (const ch of singles) {
    tokens.push(ch)
    types.push(TOKEN_TYPE.normal)
    scores.push(-2)
  }
  for (const ch of letters) {
    tokens.push(`▁${ch}`)
    types.push(TOKEN_TYPE.normal)
    scores.push(-1)
  }
  return { tokens, types, scores }
}

const gaussian = (seed: number) => {
  let state = seed >>> 0 || 1
  const uniform = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return ((state >>> 0) + 0.5) / 2 ** 32
  }
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
}

/** Write the model to `path` and describe it. */
export const writeTinyLlamaGguf = (path: string, options: TinyLlamaOptions = {}): TinyLlama => {
  const nEmbd = options.embedding ?? 64
  const nHead = 4
  const nFf = nEmbd * 2
  const nLayer = options.layers ?? 2
  const nCtx = options.contextLength ?? 1024
  const vocab = vocabulary()
  const nVocab = vocab.tokens.length
  const randn = gaussian(options.seed ?? 1)
  const random = (n: number, std: number) => Float32Array.from({ length: n }, () => randn() * std)
  const ones = (n: number) => new Float32Array(n).fill(1)

  const tensors: Array<GgufTensor> = [
    { name: "token_embd.weight", dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
    { name: "output_norm.weight", dims: [nEmbd], data: ones(nEmbd) },
    { name: "output.weight", dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
  ]
  for (let l = 0; l < nLayer; l++) {
    const blk = `blk.${l}`
    tensors.push(
      { name: `${blk}.attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${blk}.attn_q.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${blk}.attn_k.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${blk}.attn_v.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${blk}.attn_output.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${blk}.ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${blk}.ffn_gate.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.1) },
      { name: `${blk}.ffn_up.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.1) },
      { name: `${blk}.ffn_down.weight`, dims: [nFf, nEmbd], data: random(nFf * nEmbd, 0.1) },
    )
  }
  const u32 = (value: number): GgufValue => ({ type: "u32", value })
  const metadata: ReadonlyArray<readonly [string, GgufValue]> = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "personaplex-compaction-tiny-random" }],
    ["general.alignment", u32(32)],
    ["llama.context_length", u32(nCtx)],
    ["llama.embedding_length", u32(nEmbd)],
    ["llama.block_count", u32(nLayer)],
    ["llama.feed_forward_length", u32(nFf)],
    ["llama.attention.head_count", u32(nHead)],
    ["llama.attention.head_count_kv", u32(nHead)],
    ["llama.rope.dimension_count", u32(nEmbd / nHead)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", of: "string", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "array", of: "f32", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "array", of: "i32", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", u32(0)],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
  ]
  writeGguf(path, metadata, tensors)
  return { path, vocabSize: nVocab, contextLength: nCtx }
}
