import { Effect } from "effect"
import { MimiConfigError } from "./errors.ts"

export const SAMPLE_RATE = 24000
export const FRAME_SIZE = 1920
export const FRAME_RATE = 12.5

export interface SeanetConfig {
  readonly channels: number
  /** Latent width at the SEANet output (encoder) / input (decoder). */
  readonly dimension: number
  readonly nFilters: number
  readonly nResidualLayers: number
  /** Decoder order; the encoder uses them reversed. */
  readonly ratios: ReadonlyArray<number>
  readonly kernelSize: number
  readonly lastKernelSize: number
  readonly residualKernelSize: number
  readonly dilationBase: number
  /** Residual branch width = dim / compress. */
  readonly compress: number
}

export interface QuantizerConfig {
  /** Codebook vector width. */
  readonly dimension: number
  /** Codebooks stored: 1 semantic + (nQ − 1) acoustic. */
  readonly nQ: number
  readonly bins: number
  readonly inputDimension: number
  readonly outputDimension: number
}

export interface TransformerConfig {
  readonly dModel: number
  readonly numHeads: number
  readonly numLayers: number
  readonly dimFeedforward: number
  /** Attention window and KV ring capacity, in 25 Hz steps. */
  readonly context: number
  readonly maxPeriod: number
  readonly layerNormEps: number
}

/** Mimi's architecture (upstream-spec §2.1). Only the variant PersonaPlex uses is supported: causal, no norm, ELU, LayerNorm, RoPE, no gating. */
export interface MimiConfig {
  readonly sampleRate: number
  readonly frameRate: number
  readonly frameSize: number
  /** Codebooks used per frame (1 semantic + numCodebooks − 1 acoustic). */
  readonly numCodebooks: number
  readonly seanet: SeanetConfig
  readonly quantizer: QuantizerConfig
  readonly transformer: TransformerConfig
}

const personaplex: MimiConfig = {
  sampleRate: SAMPLE_RATE,
  frameRate: FRAME_RATE,
  frameSize: FRAME_SIZE,
  numCodebooks: 8,
  seanet: {
    channels: 1,
    dimension: 512,
    nFilters: 64,
    nResidualLayers: 1,
    ratios: [8, 6, 5, 4],
    kernelSize: 7,
    lastKernelSize: 3,
    residualKernelSize: 3,
    dilationBase: 2,
    compress: 2,
  },
  quantizer: { dimension: 256, nQ: 32, bins: 2048, inputDimension: 512, outputDimension: 512 },
  transformer: {
    dModel: 512,
    numHeads: 8,
    numLayers: 8,
    dimFeedforward: 2048,
    context: 250,
    maxPeriod: 10000,
    layerNormEps: 1e-5,
  },
}

type Json = Record<string, unknown>

const fail = (field: string, reason: string): never => {
  throw new MimiConfigError({ field, reason })
}

const objectAt = (json: Json, field: string, path: string): Json => {
  const value = json[field]
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail(`${path}${field}`, "missing or not an object")
  return value as Json
}

const intAt = (json: Json, field: string, path: string, fallback?: number): number => {
  const value = json[field] ?? fallback
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0)
    return fail(`${path}${field}`, `expected a positive integer, got ${JSON.stringify(value)}`)
  return value
}

const numberAt = (json: Json, field: string, path: string, fallback?: number): number => {
  const value = json[field] ?? fallback
  if (typeof value !== "number" || !Number.isFinite(value))
    return fail(`${path}${field}`, `expected a number, got ${JSON.stringify(value)}`)
  return value
}

/** Fields whose other values would need code this port does not have. */
const expectValue = (json: Json, field: string, path: string, allowed: ReadonlyArray<unknown>) => {
  if (!(field in json)) return
  const value = json[field]
  if (!allowed.includes(value))
    fail(
      `${path}${field}`,
      `${JSON.stringify(value)} is not supported (supported: ${allowed.map((a) => JSON.stringify(a)).join(", ")})`,
    )
}

const fromJsonUnsafe = (input: unknown): MimiConfig => {
  if (typeof input !== "object" || input === null) return fail("(root)", "expected an object")
  const json = input as Json
  const seanet = objectAt(json, "seanet", "")
  const quantizer = objectAt(json, "quantizer", "")
  const transformer = objectAt(json, "transformer", "")
  expectValue(seanet, "causal", "seanet.", [true])
  expectValue(seanet, "norm", "seanet.", ["none"])
  expectValue(seanet, "activation", "seanet.", ["ELU"])
  expectValue(seanet, "true_skip", "seanet.", [true])
  expectValue(seanet, "pad_mode", "seanet.", ["constant"])
  expectValue(transformer, "causal", "transformer.", [true])
  expectValue(transformer, "norm", "transformer.", ["layer_norm"])
  expectValue(transformer, "gating", "transformer.", ["none"])
  expectValue(transformer, "positional_embedding", "transformer.", ["rope"])
  expectValue(transformer, "conv_layout", "transformer.", [true])
  const ratios = seanet.ratios
  if (!Array.isArray(ratios) || ratios.length === 0 || !ratios.every((r) => Number.isInteger(r) && r > 0))
    fail("seanet.ratios", `expected a non-empty list of positive integers, got ${JSON.stringify(ratios)}`)
  const config: MimiConfig = {
    sampleRate: intAt(json, "sample_rate", "", SAMPLE_RATE),
    frameRate: numberAt(json, "frame_rate", "", FRAME_RATE),
    frameSize: intAt(json, "frame_size", "", FRAME_SIZE),
    numCodebooks: intAt(json, "num_codebooks", "", 8),
    seanet: {
      channels: intAt(seanet, "channels", "seanet."),
      dimension: intAt(seanet, "dimension", "seanet."),
      nFilters: intAt(seanet, "n_filters", "seanet."),
      nResidualLayers: intAt(seanet, "n_residual_layers", "seanet."),
      ratios: ratios as number[],
      kernelSize: intAt(seanet, "kernel_size", "seanet."),
      lastKernelSize: intAt(seanet, "last_kernel_size", "seanet."),
      residualKernelSize: intAt(seanet, "residual_kernel_size", "seanet."),
      dilationBase: intAt(seanet, "dilation_base", "seanet."),
      compress: intAt(seanet, "compress", "seanet."),
    },
    quantizer: {
      dimension: intAt(quantizer, "dimension", "quantizer."),
      nQ: intAt(quantizer, "n_q", "quantizer."),
      bins: intAt(quantizer, "bins", "quantizer."),
      inputDimension: intAt(quantizer, "input_dimension", "quantizer."),
      outputDimension: intAt(quantizer, "output_dimension", "quantizer."),
    },
    transformer: {
      dModel: intAt(transformer, "d_model", "transformer."),
      numHeads: intAt(transformer, "num_heads", "transformer."),
      numLayers: intAt(transformer, "num_layers", "transformer."),
      dimFeedforward: intAt(transformer, "dim_feedforward", "transformer."),
      context: intAt(transformer, "context", "transformer."),
      maxPeriod: numberAt(transformer, "max_period", "transformer.", 10000),
      layerNormEps: numberAt(transformer, "layer_norm_eps", "transformer.", 1e-5),
    },
  }
  validate(config, transformer)
  return config
}

/** Cross-field constraints: the projections this port omits must really be identities. */
const validate = (c: MimiConfig, transformerJson?: Json) => {
  const d = c.seanet.dimension
  if (c.seanet.channels !== 1) fail("seanet.channels", `only mono (1) is supported, got ${c.seanet.channels}`)
  if (c.transformer.dModel !== d)
    fail(
      "transformer.d_model",
      `must equal seanet.dimension (${d}): input/output projections are not implemented`,
    )
  if (transformerJson) {
    if (transformerJson.input_dimension !== undefined && transformerJson.input_dimension !== d)
      fail("transformer.input_dimension", `must equal seanet.dimension (${d})`)
    const outs = transformerJson.output_dimensions
    if (outs !== undefined && !(Array.isArray(outs) && outs.length === 1 && outs[0] === d))
      fail("transformer.output_dimensions", `must be [${d}]`)
  }
  if (
    c.transformer.dModel % c.transformer.numHeads !== 0 ||
    (c.transformer.dModel / c.transformer.numHeads) % 2 !== 0
  )
    fail("transformer.num_heads", `d_model ${c.transformer.dModel} must split into heads of even width`)
  if (c.transformer.context <= 2)
    fail("transformer.context", `${c.transformer.context} must exceed the 2 steps written per frame`)
  if (c.quantizer.inputDimension !== d)
    fail("quantizer.input_dimension", `must equal seanet.dimension (${d})`)
  if (c.quantizer.outputDimension !== d)
    fail("quantizer.output_dimension", `must equal seanet.dimension (${d})`)
  if (c.numCodebooks > c.quantizer.nQ)
    fail("num_codebooks", `${c.numCodebooks} exceeds quantizer.n_q (${c.quantizer.nQ})`)
  if (c.seanet.dimension % c.seanet.compress !== 0 || c.seanet.nFilters % c.seanet.compress !== 0)
    fail("seanet.compress", `must divide the block widths`)
  const hop = hopLength(c)
  if (c.frameSize !== 2 * hop)
    fail(
      "frame_size",
      `${c.frameSize} must be exactly two encoder steps (2 × ${hop}) for the streaming graphs`,
    )
  if (Math.abs(c.sampleRate / c.frameSize - c.frameRate) > 1e-9)
    fail(
      "frame_rate",
      `${c.frameRate} does not equal sample_rate / frame_size (${c.sampleRate / c.frameSize})`,
    )
}

/** Samples per encoder (25 Hz) step. */
export const hopLength = (c: MimiConfig): number => c.seanet.ratios.reduce((a, b) => a * b, 1)

const asConfigError = (error: unknown) =>
  error instanceof MimiConfigError ? error : new MimiConfigError({ field: "(root)", reason: String(error) })

export const MimiConfig: {
  /** The codec PersonaPlex ships (`tokenizer-e351c8d8-checkpoint125.safetensors`). */
  readonly personaplex: MimiConfig
  /** Read the fixture JSON layout (`mimi-tiny.json`: snake_case `seanet`, `quantizer`, `transformer`). Throws `MimiConfigError`. */
  fromJson(json: unknown): MimiConfig
  /** `fromJson` as an Effect. */
  decode(json: unknown): Effect.Effect<MimiConfig, MimiConfigError>
  /** Check a hand-built config. Throws `MimiConfigError`. */
  validate(config: MimiConfig): MimiConfig
  /** A codec's config (`personaplex` where none is given), checked, as an Effect. */
  checked(config: MimiConfig | undefined): Effect.Effect<MimiConfig, MimiConfigError>
} = {
  personaplex,
  fromJson: fromJsonUnsafe,
  decode: (json) => Effect.try({ try: () => fromJsonUnsafe(json), catch: asConfigError }),
  validate: (config) => {
    validate(config)
    return config
  },
  checked: (config = personaplex) =>
    Effect.try({
      try: () => {
        validate(config)
        return config
      },
      catch: asConfigError,
    }),
}
