import { MimiConfig } from "@personaplex/codec"
import { LmConfig } from "@personaplex/lm"

/** A model size the benchmark can generate: the real one, or a tiny one for CPU tests. */
export interface BenchModels {
  readonly name: "personaplex" | "tiny"
  readonly lm: LmConfig
  readonly mimi: MimiConfig
}

const tinyLm = LmConfig.fromJson({
  dim: 64,
  text_card: 1000,
  existing_text_padding_id: 3,
  n_q: 16,
  dep_q: 16,
  card: 2048,
  num_heads: 4,
  num_layers: 2,
  hidden_scale: 4.125,
  context: 3000,
  max_period: 10000,
  depformer_dim: 32,
  depformer_dim_feedforward: 132,
  depformer_num_heads: 4,
  depformer_num_layers: 2,
  delays: [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
})

const base = MimiConfig.personaplex
const tinyMimi: MimiConfig = {
  ...base,
  seanet: { ...base.seanet, dimension: 32, nFilters: 4 },
  quantizer: { ...base.quantizer, dimension: 16, nQ: 8, inputDimension: 32, outputDimension: 32 },
  transformer: { ...base.transformer, dModel: 32, numHeads: 2, numLayers: 1, dimFeedforward: 64 },
}

export const BENCH_MODELS: Readonly<Record<BenchModels["name"], BenchModels>> = {
  personaplex: { name: "personaplex", lm: LmConfig.personaplex, mimi: MimiConfig.personaplex },
  tiny: { name: "tiny", lm: tinyLm, mimi: tinyMimi },
}
