import { Attr } from "@personaplex/runtime"
import type { ConvStep, ConvTransposeStep, ResidualStep, SeanetStep } from "../plan.ts"
import type { StepGraph } from "./StepGraph.ts"

/** A value in conv layout `[B, channels, length]`. */
export interface Signal {
  readonly value: string
  readonly channels: number
  readonly length: number
}

const elu = (sg: StepGraph, x: string) => sg.op("Elu", [x], { alpha: Attr.float(1) })

interface ConvParams {
  readonly prefix: string
  readonly cin: number
  readonly cout: number
  readonly kernel: number
  readonly stride: number
  readonly dilation: number
}

/**
 * Causal streaming conv (upstream-spec §2.3): the state holds the last `K − s` input steps
 * (zeros after a reset = the constant left pad of the first call), so every call with
 * `m·s` new steps yields exactly `m` outputs.
 */
export const streamingConv = (sg: StepGraph, x: Signal, p: ConvParams): Signal => {
  const effective = (p.kernel - 1) * p.dilation + 1
  const keep = effective - p.stride
  let input = x.value
  let length = x.length
  if (keep > 0) {
    const previous = sg.state(p.prefix, "float32", [sg.batch, p.cin, keep])
    input = sg.op("Concat", [previous, x.value], { axis: 2 })
    length += keep
    sg.setState(p.prefix, sg.op("Slice", [input, sg.i64([x.length]), sg.i64([length]), sg.i64([2])]))
  }
  const outputs = (length - effective) / p.stride + 1
  if (outputs <= FEW_OUTPUTS && p.dilation === 1 && p.kernel > 1)
    return { value: fewOutputConv(sg, input, p, outputs), channels: p.cout, length: outputs }
  const y = sg.op(
    "Conv",
    [input, sg.weight(`${p.prefix}.weight`, [p.cout, p.cin, p.kernel]), sg.weight(`${p.prefix}.bias`)],
    { kernel_shape: [p.kernel], strides: [p.stride], dilations: [p.dilation] },
  )
  return { value: y, channels: p.cout, length: outputs }
}

/** Below this many output steps a conv runs as one Gemm over its gathered input windows. */
const FEW_OUTPUTS = 4

/**
 * A conv with very few outputs (the 12.5/25 Hz layers, two per frame) as one linear layer over the
 * gathered windows `[outputs·B, cin·k]` with the weight `[cout, cin·k]`: ORT's Conv kernel is
 * markedly slower than its (pre-packed) Gemm at these shapes.
 */
const fewOutputConv = (sg: StepGraph, input: string, p: ConvParams, outputs: number): string => {
  const b = sg.batch
  const windows = Array.from({ length: outputs }, (_, t) =>
    sg.op("Reshape", [
      sg.op("Slice", [input, sg.i64([t * p.stride]), sg.i64([t * p.stride + p.kernel]), sg.i64([2])]),
      sg.i64([b, p.cin * p.kernel]),
    ]),
  )
  const columns = outputs === 1 ? windows[0]! : sg.op("Concat", windows, { axis: 0 })
  const y = sg.linear(columns, `${p.prefix}.weight`, p.cout, p.cin * p.kernel, sg.weight(`${p.prefix}.bias`))
  if (b === 1)
    return sg.op("Reshape", [sg.op("Transpose", [y], { perm: [1, 0] }), sg.i64([1, p.cout, outputs])])
  return sg.op("Transpose", [sg.op("Reshape", [y, sg.i64([outputs, b, p.cout])])], { perm: [1, 2, 0] })
}

/**
 * Causal streaming transposed conv (upstream-spec §2.3): emit `T·s` steps, keep the last
 * `k − s` as the overlap tail. The state stores `tail − bias`, which upstream adds as
 * `partial − bias` on the next call; zero after a reset (no tail yet).
 */
export const streamingConvTranspose = (
  sg: StepGraph,
  x: Signal,
  p: {
    readonly prefix: string
    readonly cin: number
    readonly cout: number
    readonly kernel: number
    readonly stride: number
    readonly groups?: number
    readonly bias: boolean
    readonly weight?: string
  },
): Signal => {
  const groups = p.groups ?? 1
  const weight = sg.weight(p.weight ?? `${p.prefix}.weight`, [p.cin, p.cout / groups, p.kernel])
  const bias = p.bias ? sg.weight(`${p.prefix}.bias`) : undefined
  const y = sg.op("ConvTranspose", bias ? [x.value, weight, bias] : [x.value, weight], {
    kernel_shape: [p.kernel],
    strides: [p.stride],
    group: groups,
  })
  const emitted = x.length * p.stride
  const tail = p.kernel - p.stride
  const stateName = p.weight ? p.weight.replace(/\.weight$/, "") : p.prefix
  const partial = sg.state(stateName, "float32", [sg.batch, p.cout, tail])
  const head = sg.op("Slice", [y, sg.i64([0]), sg.i64([emitted]), sg.i64([2])])
  const padded = sg.op("Pad", [partial, sg.i64([0, 0, 0, 0, 0, emitted - tail])])
  const out = sg.op("Add", [head, padded])
  let next = sg.op("Slice", [y, sg.i64([emitted]), sg.i64([emitted + tail]), sg.i64([2])])
  if (bias) next = sg.op("Sub", [next, sg.op("Reshape", [bias, sg.i64([p.cout, 1])])])
  sg.setState(stateName, next)
  return { value: out, channels: p.cout, length: emitted }
}

/**
 * The same streaming transposed conv for `kernel = 2·stride` (every SEANet decoder stage), as one
 * MatMul plus an explicit overlap-add: each input step t yields two blocks of `stride` outputs, the
 * first lands on output block t, the second on block t + 1 (or in the state, for the last step).
 * ORT's ConvTranspose kernel (col2im) is several times slower at these shapes.
 */
const overlapAddConvTranspose = (sg: StepGraph, x: Signal, p: ConvTransposeStep): Signal => {
  const { cin, cout, stride: s } = p
  const steps = x.length
  const b = sg.batch
  // Batched, every value below has the stream's row in front: the step axis moves up by one.
  const rows = sg.rows
  const stepAxis = rows.length
  const weight = sg.weight(`${p.prefix}.weight`, [cin, cout * p.kernel])
  const bias = sg.op("Reshape", [sg.weight(`${p.prefix}.bias`), sg.i64([1, cout, 1])])
  const inputRows = sg.op("Reshape", [
    sg.op("Transpose", [x.value], { perm: [0, 2, 1] }),
    sg.i64([b * steps, cin]),
  ])
  const blocks = sg.op("Reshape", [
    sg.op("MatMul", [inputRows, weight]),
    sg.i64([...rows, steps, cout, 2, s]),
  ])
  const half = (i: number) =>
    sg.op("Reshape", [
      sg.op("Slice", [blocks, sg.i64([i]), sg.i64([i + 1]), sg.i64([stepAxis + 2])]),
      sg.i64([...rows, steps, cout, s]),
    ])
  const [first, second] = [half(0), half(1)]
  const fed = sg.state(p.prefix, "float32", [b, cout, s])
  const partial = b === 1 ? fed : sg.op("Unsqueeze", [fed, sg.i64([1])])
  const carried =
    steps === 1
      ? partial
      : sg.op(
          "Concat",
          [partial, sg.op("Slice", [second, sg.i64([0]), sg.i64([steps - 1]), sg.i64([stepAxis])])],
          { axis: stepAxis },
        )
  const last = sg.op("Slice", [second, sg.i64([steps - 1]), sg.i64([steps]), sg.i64([stepAxis])])
  sg.setState(p.prefix, b === 1 ? last : sg.op("Reshape", [last, sg.i64([b, cout, s])]))
  const out = sg.op("Add", [sg.op("Add", [first, bias]), carried])
  const value = sg.op("Reshape", [
    sg.op("Transpose", [out], { perm: b === 1 ? [1, 0, 2] : [0, 2, 1, 3] }),
    sg.i64([b, cout, steps * s]),
  ])
  return { value, channels: cout, length: steps * s }
}

const residual = (sg: StepGraph, x: Signal, step: ResidualStep): Signal => {
  const h1 = streamingConv(
    sg,
    { ...x, value: elu(sg, x.value) },
    {
      prefix: `${step.prefix}.block.1.conv.conv`,
      cin: step.dim,
      cout: step.hidden,
      kernel: step.kernel,
      stride: 1,
      dilation: step.dilation,
    },
  )
  const h2 = streamingConv(
    sg,
    { ...h1, value: elu(sg, h1.value) },
    {
      prefix: `${step.prefix}.block.3.conv.conv`,
      cin: step.hidden,
      cout: step.dim,
      kernel: 1,
      stride: 1,
      dilation: 1,
    },
  )
  return { ...x, value: sg.op("Add", [x.value, h2.value]) }
}

const conv = (sg: StepGraph, x: Signal, step: ConvStep): Signal =>
  streamingConv(sg, step.eluBefore ? { ...x, value: elu(sg, x.value) } : x, step)

const convTranspose = (sg: StepGraph, x: Signal, step: ConvTransposeStep): Signal => {
  const input = step.eluBefore ? { ...x, value: elu(sg, x.value) } : x
  return step.kernel === 2 * step.stride
    ? overlapAddConvTranspose(sg, input, step)
    : streamingConvTranspose(sg, input, { ...step, bias: true })
}

/** Run a SEANet layer list on one frame's worth of input. */
export const seanet = (sg: StepGraph, x: Signal, steps: ReadonlyArray<SeanetStep>): Signal => {
  let signal = x
  for (const step of steps) {
    if (step.kind === "conv") signal = conv(sg, signal, step)
    else if (step.kind === "convtr") signal = convTranspose(sg, signal, step)
    else signal = residual(sg, signal, step)
  }
  return signal
}
