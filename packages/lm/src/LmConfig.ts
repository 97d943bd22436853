import { LmConfigError } from "./errors.ts"

/** Architecture of a Moshi LM (upstream `_lm_kwargs` with PersonaPlex's `dep_q = 16`). */
export interface LmConfig {
  readonly dim: number
  readonly numHeads: number
  readonly numLayers: number
  /** Hidden width of the SiLU-gated FFN (`linear_out` input). */
  readonly ffnHidden: number
  readonly textCard: number
  readonly card: number
  /** Audio input streams (8 agent + 8 user). */
  readonly nQ: number
  /** Depformer steps the checkpoint holds weights for (16 in PersonaPlex). */
  readonly depQ: number
  readonly context: number
  readonly maxPeriod: number
  readonly depformerDim: number
  readonly depformerNumHeads: number
  readonly depformerNumLayers: number
  readonly depformerFfnHidden: number
  /** Per stream k = 0..16: text, agent 0..7, user 0..7. */
  readonly delays: ReadonlyArray<number>
  readonly existingTextPaddingId: number
}

/** Upstream `ActivationGating` hidden width for a given `dim_feedforward`. */
const gatingHidden = (dim: number, dimFeedforward: number) =>
  dimFeedforward === 4 * dim ? Math.floor((11 * dim) / 4) : Math.floor((2 * dimFeedforward) / 3)

const PERSONAPLEX_DELAYS = [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1]

const personaplex: LmConfig = {
  dim: 4096,
  numHeads: 32,
  numLayers: 32,
  ffnHidden: gatingHidden(4096, Math.floor(4.125 * 4096)),
  textCard: 32000,
  card: 2048,
  nQ: 16,
  depQ: 16,
  context: 3000,
  maxPeriod: 10000,
  depformerDim: 1024,
  depformerNumHeads: 16,
  depformerNumLayers: 6,
  depformerFfnHidden: gatingHidden(1024, Math.floor(4.125 * 1024)),
  delays: PERSONAPLEX_DELAYS,
  existingTextPaddingId: 3,
}

const num = (json: Record<string, unknown>, key: string): number => {
  const value = json[key]
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new LmConfigError({ field: key, reason: `expected a number, found ${JSON.stringify(value)}` })
  return value
}

const expectValue = (json: Record<string, unknown>, key: string, expected: unknown) => {
  if (key in json && json[key] !== expected)
    throw new LmConfigError({
      field: key,
      reason: `only ${JSON.stringify(expected)} is supported, found ${JSON.stringify(json[key])}`,
    })
}

/**
 * Read the upstream kwargs layout (the fixtures' `lm-*.json`, either the whole file or its
 * `"config"` object). Throws `LmConfigError` naming the field.
 */
const fromJson = (input: unknown): LmConfig => {
  if (typeof input !== "object" || input === null)
    throw new LmConfigError({ field: "(root)", reason: "not an object" })
  const root = input as Record<string, unknown>
  const json = (typeof root.config === "object" && root.config !== null ? root.config : root) as Record<
    string,
    unknown
  >
  expectValue(json, "gating", "silu")
  expectValue(json, "depformer_gating", "silu")
  expectValue(json, "norm", "rms_norm_f32")
  expectValue(json, "positional_embedding", "rope")
  expectValue(json, "depformer_pos_emb", "none")
  expectValue(json, "depformer_multi_linear", true)
  expectValue(json, "depformer_weights_per_step", true)
  expectValue(json, "layer_scale", null)
  expectValue(json, "depformer_layer_scale", null)
  const dim = num(json, "dim")
  const depformerDim = num(json, "depformer_dim")
  const delays = json.delays
  const nQ = num(json, "n_q")
  if (
    !Array.isArray(delays) ||
    delays.length !== nQ + 1 ||
    !delays.every((d) => Number.isInteger(d) && d >= 0)
  )
    throw new LmConfigError({ field: "delays", reason: `expected ${nQ + 1} non-negative integers` })
  const depFf =
    typeof json.depformer_dim_feedforward === "number"
      ? json.depformer_dim_feedforward
      : Math.floor(num(json, "hidden_scale") * depformerDim)
  const config: LmConfig = {
    dim,
    numHeads: num(json, "num_heads"),
    numLayers: num(json, "num_layers"),
    ffnHidden: gatingHidden(dim, Math.floor(num(json, "hidden_scale") * dim)),
    textCard: num(json, "text_card"),
    card: num(json, "card"),
    nQ,
    depQ: num(json, "dep_q"),
    context: num(json, "context"),
    maxPeriod: num(json, "max_period"),
    depformerDim,
    depformerNumHeads: num(json, "depformer_num_heads"),
    depformerNumLayers: num(json, "depformer_num_layers"),
    depformerFfnHidden: gatingHidden(depformerDim, depFf),
    delays: delays as number[],
    existingTextPaddingId:
      typeof json.existing_text_padding_id === "number" ? json.existing_text_padding_id : 3,
  }
  validate(config)
  return config
}

const validate = (c: LmConfig) => {
  if (c.dim % c.numHeads !== 0)
    throw new LmConfigError({ field: "num_heads", reason: `dim ${c.dim} is not a multiple of ${c.numHeads}` })
  if (c.depformerDim % c.depformerNumHeads !== 0)
    throw new LmConfigError({
      field: "depformer_num_heads",
      reason: `depformer_dim ${c.depformerDim} is not a multiple of ${c.depformerNumHeads}`,
    })
  if (c.nQ !== 16)
    throw new LmConfigError({ field: "n_q", reason: `PersonaPlex streams need n_q 16, found ${c.nQ}` })
  if (c.depQ < 8 || c.depQ > c.nQ)
    throw new LmConfigError({ field: "dep_q", reason: `expected 8..${c.nQ}, found ${c.depQ}` })
  if (Math.max(...c.delays) > 1)
    throw new LmConfigError({ field: "delays", reason: "delays above 1 are not supported (token ring of 4)" })
}

export const LmConfig = { personaplex, fromJson }
