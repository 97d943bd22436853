import { hopLength, type MimiConfig } from "../config.ts"
import { DOWNSAMPLE_WEIGHT, decoderPlan, encoderPlan, UPSAMPLE_WEIGHT } from "../plan.ts"
import type { Weights } from "../weights.ts"
import { quantizeDecode, quantizeEncode } from "./quantizer.ts"
import { StepGraph, type StepGraphOptions } from "./StepGraph.ts"
import { seanet, streamingConvTranspose } from "./seanet.ts"
import { streamingTransformer } from "./transformer.ts"

export const PCM_INPUT = "pcm"
export const CODES_OUTPUT = "codes"
export const CODES_INPUT = "codes"
export const PCM_OUTPUT = "pcm"
/** Encoder steps (25 Hz) since the reset: the RoPE position and ring write index (float32: exact below 2^24, and WebGPU has no int64 arithmetic). */
export const OFFSET_STATE = "offset"

/** `[B, D, T]` → `[B·T, D]` (row b·T + t for step t of stream b) and back. */
const toTimeMajor = (sg: StepGraph, x: string, d: number, t: number) =>
  sg.op("Reshape", [sg.op("Transpose", [x], { perm: [0, 2, 1] }), sg.i64([sg.batch * t, d])])
const toConvLayout = (sg: StepGraph, x: string, d: number, t: number) =>
  sg.batch === 1
    ? sg.op("Reshape", [sg.op("Transpose", [x], { perm: [1, 0] }), sg.i64([1, d, t])])
    : sg.op("Transpose", [sg.op("Reshape", [x, sg.i64([sg.batch, t, d])])], { perm: [0, 2, 1] })

const advanceOffset = (sg: StepGraph, offset: string, steps: number) =>
  sg.setState(OFFSET_STATE, sg.op("Add", [offset, sg.f32(steps)]))

/**
 * One encode step: `pcm` `[B, 1, frameSize]` → int32 `codes` `[numCodebooks]` (`[B, numCodebooks]`
 * batched) (SEANet encoder → transformer → replicate-padded downsample → split RVQ).
 */
export const buildEncoderStep = (
  c: MimiConfig,
  weights: Weights,
  options: StepGraphOptions = {},
): StepGraph => {
  const sg = new StepGraph("mimi_encode_step", weights, options)
  const d = c.seanet.dimension
  const steps = c.frameSize / hopLength(c)
  const b = sg.batch
  const pcm = sg.g.input(PCM_INPUT, "float32", [b, 1, c.frameSize])
  const offset = sg.state(OFFSET_STATE, "float32", [b])
  const latent = seanet(sg, { value: pcm, channels: 1, length: c.frameSize }, encoderPlan(c))
  const transformed = toConvLayout(
    sg,
    streamingTransformer(sg, toTimeMajor(sg, latent.value, d, steps), steps, offset, "encoder", c),
    d,
    steps,
  )

  // Downsample (k 4, s 2): its first call pads with two copies of its first input step, not zeros.
  const previous = sg.state("downsample", "float32", [b, d, 2])
  const firstStep = sg.op("Slice", [transformed, sg.i64([0]), sg.i64([1]), sg.i64([2])])
  const padding = sg.op("Where", [
    sg.op("Less", [b === 1 ? offset : sg.op("Reshape", [offset, sg.i64([b, 1, 1])]), sg.f32(1)]),
    sg.op("Expand", [firstStep, sg.i64([b, d, 2])]),
    previous,
  ])
  const window = sg.op("Concat", [padding, transformed], { axis: 2 })
  sg.setState("downsample", sg.op("Slice", [window, sg.i64([steps]), sg.i64([steps + 2]), sg.i64([2])]))
  const down = sg.op("Conv", [window, sg.weight(DOWNSAMPLE_WEIGHT, [d, d, 4])], {
    kernel_shape: [4],
    strides: [2],
  })
  const z = sg.op("Reshape", [down, sg.i64([b, d])])

  sg.output(quantizeEncode(sg, z, weights, c), CODES_OUTPUT, "int32", [...sg.rows, c.numCodebooks])
  advanceOffset(sg, offset, steps)
  sg.finish()
  return sg
}

/**
 * One decode step: int32 `codes` `[numCodebooks]` (`[B, numCodebooks]` batched) → `pcm` `[B, 1, frameSize]`
 * (split RVQ decode → channel-wise upsample → transformer → SEANet decoder).
 */
export const buildDecoderStep = (
  c: MimiConfig,
  weights: Weights,
  options: StepGraphOptions = {},
): StepGraph => {
  const sg = new StepGraph("mimi_decode_step", weights, options)
  const d = c.seanet.dimension
  const steps = c.frameSize / hopLength(c)
  const b = sg.batch
  const codes = sg.g.input(CODES_INPUT, "int32", [...sg.rows, c.numCodebooks])
  const offset = sg.state(OFFSET_STATE, "float32", [b])
  const latent = sg.op("Reshape", [quantizeDecode(sg, codes, weights, c), sg.i64([b, d, 1])])
  const up = streamingConvTranspose(
    sg,
    { value: latent, channels: d, length: 1 },
    {
      prefix: "upsample",
      weight: UPSAMPLE_WEIGHT,
      cin: d,
      cout: d,
      kernel: 4,
      stride: 2,
      groups: d,
      bias: false,
    },
  )
  const transformed = toConvLayout(
    sg,
    streamingTransformer(sg, toTimeMajor(sg, up.value, d, steps), steps, offset, "decoder", c),
    d,
    steps,
  )
  const pcm = seanet(sg, { value: transformed, channels: d, length: steps }, decoderPlan(c))
  sg.output(pcm.value, PCM_OUTPUT, "float32", [b, 1, c.frameSize])
  advanceOffset(sg, offset, steps)
  sg.finish()
  return sg
}
