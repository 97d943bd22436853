import { MimiConfig } from "@personaplex/codec"
import { LmConfig, tinyLmConfig } from "@personaplex/lm"

/** A model size the benchmark can generate: the real one, or a tiny one for CPU tests. */
export interface BenchModels {
  readonly name: "personaplex" | "tiny"
  readonly lm: LmConfig
  readonly mimi: MimiConfig
}

const base = MimiConfig.personaplex
const tinyMimi: MimiConfig = {
  ...base,
  seanet: { ...base.seanet, dimension: 32, nFilters: 4 },
  quantizer: { ...base.quantizer, dimension: 16, nQ: 8, inputDimension: 32, outputDimension: 32 },
  transformer: { ...base.transformer, dModel: 32, numHeads: 2, numLayers: 1, dimFeedforward: 64 },
}

export const BENCH_MODELS: Readonly<Record<BenchModels["name"], BenchModels>> = {
  personaplex: { name: "personaplex", lm: LmConfig.personaplex, mimi: MimiConfig.personaplex },
  tiny: { name: "tiny", lm: tinyLmConfig, mimi: tinyMimi },
}
