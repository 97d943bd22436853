import type { MimiConfig } from "./config.ts"

/**
 * Mimi's layer list with upstream tensor names and shapes (upstream-spec §2.4, §2.5, §2.11).
 * Graph building and checkpoint validation both read it, so they cannot disagree.
 */

export interface ConvStep {
  readonly kind: "conv"
  /** Tensor prefix, e.g. `encoder.model.3.conv.conv`. */
  readonly prefix: string
  readonly cin: number
  readonly cout: number
  readonly kernel: number
  readonly stride: number
  readonly dilation: number
  /** An ELU on the conv's input (every SEANet conv but the first of each network). */
  readonly eluBefore: boolean
}

export interface ConvTransposeStep {
  readonly kind: "convtr"
  readonly prefix: string
  readonly cin: number
  readonly cout: number
  readonly kernel: number
  readonly stride: number
  readonly eluBefore: boolean
}

export interface ResidualStep {
  readonly kind: "residual"
  /** `encoder.model.<i>`: the branch convs are `<prefix>.block.1.conv.conv` and `<prefix>.block.3.conv.conv`. */
  readonly prefix: string
  readonly dim: number
  readonly hidden: number
  readonly kernel: number
  readonly dilation: number
}

export type SeanetStep = ConvStep | ConvTransposeStep | ResidualStep

export interface TensorSpec {
  readonly name: string
  readonly shape: ReadonlyArray<number>
}

const residualBlocks = (c: MimiConfig, network: string, index: number, dim: number): ResidualStep[] =>
  Array.from({ length: c.seanet.nResidualLayers }, (_, j) => ({
    kind: "residual" as const,
    prefix: `${network}.model.${index + j}`,
    dim,
    hidden: dim / c.seanet.compress,
    kernel: c.seanet.residualKernelSize,
    dilation: c.seanet.dilationBase ** j,
  }))

/** SEANet encoder: conv, then per ratio (reversed): residual block(s), ELU, strided conv; ELU, last conv. */
export const encoderPlan = (c: MimiConfig): SeanetStep[] => {
  const s = c.seanet
  const steps: SeanetStep[] = []
  let index = 0
  let mult = 1
  steps.push({
    kind: "conv",
    prefix: `encoder.model.${index++}.conv.conv`,
    cin: s.channels,
    cout: s.nFilters,
    kernel: s.kernelSize,
    stride: 1,
    dilation: 1,
    eluBefore: false,
  })
  for (const ratio of [...s.ratios].reverse()) {
    steps.push(...residualBlocks(c, "encoder", index, mult * s.nFilters))
    index += s.nResidualLayers + 1 // the blocks, then the ELU module
    steps.push({
      kind: "conv",
      prefix: `encoder.model.${index++}.conv.conv`,
      cin: mult * s.nFilters,
      cout: mult * 2 * s.nFilters,
      kernel: 2 * ratio,
      stride: ratio,
      dilation: 1,
      eluBefore: true,
    })
    mult *= 2
  }
  index += 1 // ELU
  steps.push({
    kind: "conv",
    prefix: `encoder.model.${index}.conv.conv`,
    cin: mult * s.nFilters,
    cout: s.dimension,
    kernel: s.lastKernelSize,
    stride: 1,
    dilation: 1,
    eluBefore: true,
  })
  return steps
}

/** SEANet decoder: conv, then per ratio: ELU, transposed conv, residual block(s); ELU, last conv. */
export const decoderPlan = (c: MimiConfig): SeanetStep[] => {
  const s = c.seanet
  const steps: SeanetStep[] = []
  let index = 0
  let mult = 2 ** s.ratios.length
  steps.push({
    kind: "conv",
    prefix: `decoder.model.${index++}.conv.conv`,
    cin: s.dimension,
    cout: mult * s.nFilters,
    kernel: s.kernelSize,
    stride: 1,
    dilation: 1,
    eluBefore: false,
  })
  for (const ratio of s.ratios) {
    index += 1 // ELU
    steps.push({
      kind: "convtr",
      prefix: `decoder.model.${index++}.convtr.convtr`,
      cin: mult * s.nFilters,
      cout: (mult * s.nFilters) / 2,
      kernel: 2 * ratio,
      stride: ratio,
      eluBefore: true,
    })
    steps.push(...residualBlocks(c, "decoder", index, (mult * s.nFilters) / 2))
    index += s.nResidualLayers
    mult /= 2
  }
  index += 1 // ELU
  steps.push({
    kind: "conv",
    prefix: `decoder.model.${index}.conv.conv`,
    cin: s.nFilters,
    cout: s.channels,
    kernel: s.lastKernelSize,
    stride: 1,
    dilation: 1,
    eluBefore: true,
  })
  return steps
}

const stepTensors = (step: SeanetStep): TensorSpec[] => {
  if (step.kind === "conv")
    return [
      { name: `${step.prefix}.weight`, shape: [step.cout, step.cin, step.kernel] },
      { name: `${step.prefix}.bias`, shape: [step.cout] },
    ]
  if (step.kind === "convtr")
    return [
      { name: `${step.prefix}.weight`, shape: [step.cin, step.cout, step.kernel] },
      { name: `${step.prefix}.bias`, shape: [step.cout] },
    ]
  return [
    { name: `${step.prefix}.block.1.conv.conv.weight`, shape: [step.hidden, step.dim, step.kernel] },
    { name: `${step.prefix}.block.1.conv.conv.bias`, shape: [step.hidden] },
    { name: `${step.prefix}.block.3.conv.conv.weight`, shape: [step.dim, step.hidden, 1] },
    { name: `${step.prefix}.block.3.conv.conv.bias`, shape: [step.dim] },
  ]
}

const seanetTensors = (steps: ReadonlyArray<SeanetStep>): TensorSpec[] => steps.flatMap(stepTensors)

export const transformerLayerPrefix = (which: "encoder" | "decoder", layer: number) =>
  `${which}_transformer.transformer.layers.${layer}`

const transformerTensors = (c: MimiConfig, which: "encoder" | "decoder"): TensorSpec[] => {
  const { dModel: d, dimFeedforward: ff, numLayers } = c.transformer
  return Array.from({ length: numLayers }, (_, l) => {
    const p = transformerLayerPrefix(which, l)
    return [
      { name: `${p}.self_attn.in_proj_weight`, shape: [3 * d, d] },
      { name: `${p}.self_attn.out_proj.weight`, shape: [d, d] },
      { name: `${p}.norm1.weight`, shape: [d] },
      { name: `${p}.norm1.bias`, shape: [d] },
      { name: `${p}.norm2.weight`, shape: [d] },
      { name: `${p}.norm2.bias`, shape: [d] },
      { name: `${p}.linear1.weight`, shape: [ff, d] },
      { name: `${p}.linear2.weight`, shape: [d, ff] },
      { name: `${p}.layer_scale_1.scale`, shape: [d] },
      { name: `${p}.layer_scale_2.scale`, shape: [d] },
    ]
  }).flat()
}

export const DOWNSAMPLE_WEIGHT = "downsample.conv.conv.conv.weight"
export const UPSAMPLE_WEIGHT = "upsample.convtr.convtr.convtr.weight"

export type QuantizerHalf = "rvq_first" | "rvq_rest"

export const codebookPrefix = (half: QuantizerHalf, layer: number) =>
  `quantizer.${half}.vq.layers.${layer}._codebook`

/** Codebooks actually used: the semantic one and the first `numCodebooks − 1` acoustic ones. */
export const usedCodebooks = (
  c: MimiConfig,
): ReadonlyArray<{ readonly half: QuantizerHalf; readonly layer: number }> => [
  { half: "rvq_first", layer: 0 },
  ...Array.from({ length: c.numCodebooks - 1 }, (_, j) => ({ half: "rvq_rest" as const, layer: j })),
]

const quantizerTensors = (c: MimiConfig): TensorSpec[] => {
  const { dimension: q, bins, inputDimension: din, outputDimension: dout } = c.quantizer
  return [
    ...(["rvq_first", "rvq_rest"] as const).flatMap((half) => [
      { name: `quantizer.${half}.input_proj.weight`, shape: [q, din, 1] },
      { name: `quantizer.${half}.output_proj.weight`, shape: [dout, q, 1] },
    ]),
    ...usedCodebooks(c).flatMap(({ half, layer }) => [
      { name: `${codebookPrefix(half, layer)}.embedding_sum`, shape: [bins, q] },
      { name: `${codebookPrefix(half, layer)}.cluster_usage`, shape: [bins] },
    ]),
  ]
}

/** Every tensor the encoder step needs, with its expected shape. */
export const encoderTensors = (c: MimiConfig): TensorSpec[] => [
  ...seanetTensors(encoderPlan(c)),
  ...transformerTensors(c, "encoder"),
  { name: DOWNSAMPLE_WEIGHT, shape: [c.seanet.dimension, c.seanet.dimension, 4] },
  ...quantizerTensors(c),
]

/** Every tensor the decoder step needs, with its expected shape. */
export const decoderTensors = (c: MimiConfig): TensorSpec[] => [
  ...quantizerTensors(c),
  { name: UPSAMPLE_WEIGHT, shape: [c.seanet.dimension, 1, 4] },
  ...transformerTensors(c, "decoder"),
  ...seanetTensors(decoderPlan(c)),
]

/**
 * The complete upstream state dict (what `get_mimi`'s strict load expects), including the unused
 * acoustic codebooks and `_initialized` flags: for writing checkpoints (benchmarks, tests).
 */
export const checkpointTensors = (c: MimiConfig): TensorSpec[] => {
  const { dimension: q, bins, nQ } = c.quantizer
  const codebooks: TensorSpec[] = []
  for (const [half, count] of [
    ["rvq_first", 1],
    ["rvq_rest", nQ - 1],
  ] as const)
    for (let layer = 0; layer < count; layer++) {
      const p = codebookPrefix(half, layer)
      codebooks.push(
        { name: `${p}.embedding_sum`, shape: [bins, q] },
        { name: `${p}.cluster_usage`, shape: [bins] },
        { name: `${p}._initialized`, shape: [1] },
      )
    }
  const byName = new Map<string, TensorSpec>()
  for (const t of [...encoderTensors(c), ...decoderTensors(c), ...codebooks])
    if (!byName.has(t.name)) byName.set(t.name, t)
  return [...byName.values()]
}
