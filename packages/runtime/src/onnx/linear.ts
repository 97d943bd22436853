import { float32ToF16 } from "../dtype.ts"
import { GraphBuildError } from "../errors.ts"
import { type BlockwiseQuantized, type QuantBlockSize, quantizeBlockwise } from "../quant/blockwise.ts"
import { SafetensorsFile, type TensorInfo } from "../safetensors/SafetensorsFile.ts"
import { ELEMENT_TYPE_CODE, type ElementType, type GraphBuilder } from "./GraphBuilder.ts"

/** How a linear layer's weight is stored in the graph (and, for int8/int4, how it is computed). */
export type LinearPrecision = "float32" | "float16" | "int8" | "int4"

/**
 * Where a linear layer's weight comes from. The layout is PyTorch `nn.Linear`'s: `[out, in]`.
 * - `data`: values in memory.
 * - `tensor`: a tensor of a `.safetensors` file (`checkpoint.infoSync(name)`), F32, F16 or BF16.
 *   For the float precisions it is referenced in place as external data (the model must then be
 *   saved with `GraphBuilder.save`); for int8/int4 it is read and quantized now.
 * - `quantized`: blocks made earlier by `quantizeBlockwise` (from a cache, say); int8/int4 only,
 *   and `bits`/`blockSize` must match the precision and block size asked for.
 */
export type LinearWeight =
  | { readonly data: Float32Array; readonly shape: readonly [number, number] }
  | { readonly tensor: TensorInfo }
  | { readonly quantized: BlockwiseQuantized }

export interface LinearOptions {
  /** Names the initializers (`<name>.weight`, `<name>.scales`, `<name>.bias`) and nodes; must be unique in the graph. */
  readonly name: string
  readonly precision: LinearPrecision
  /** Block size for int8/int4 (default 32). */
  readonly blockSize?: QuantBlockSize
  /** `[out]` values, or the name of a value already in the graph. */
  readonly bias?: Float32Array | string
  /** Element type of `x` and of the result (default float32). The matmul runs in this type. */
  readonly inputType?: "float32" | "float16"
  /**
   * `MatMulNBits` `accuracy_level` (int8/int4): 0 (default) computes in the input's float type;
   * 4 quantizes activations to int8 (relative error about 1.4e-2). Use 4 for int8 on the CPU
   * provider: its 8-bit kernel at level 0 was 200 times slower (README, Benchmarks).
   */
  readonly accuracyLevel?: 0 | 1 | 2 | 3 | 4
}

const STORED_TYPE: Record<string, ElementType | undefined> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
}

const transposeToInOut = (w: Float32Array, out: number, inp: number): Float32Array => {
  const t = new Float32Array(w.length)
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i]!
  return t
}

const readTensorFloat32 = (info: TensorInfo): Float32Array => {
  const file = SafetensorsFile.open(info.path)
  try {
    return file.readRegionFloat32(info)
  } finally {
    file.close()
  }
}

const weightShape = (weight: LinearWeight, name: string): readonly [number, number] => {
  if ("quantized" in weight) return [weight.quantized.n, weight.quantized.k]
  const shape = "data" in weight ? weight.shape : weight.tensor.shape
  if (shape.length !== 2)
    throw new GraphBuildError({ reason: `linear "${name}": weight shape [${shape}] is not 2-D [out, in]` })
  return [shape[0]!, shape[1]!]
}

/** Cast `value` from `from` to `to` unless they already agree. */
const castTo = (g: GraphBuilder, value: string, from: ElementType, to: ElementType, name: string) =>
  from === to ? value : g.op("Cast", [value], { to: ELEMENT_TYPE_CODE[to] }, { name: `${name}_cast` })

/**
 * `y = x · Wᵀ (+ bias)` for a PyTorch `nn.Linear` weight `W` of shape `[out, in]`, where `x` is
 * `[..., in]` of `inputType`; returns the name of `y` (`[..., out]`, same type).
 *
 * - `float32` / `float16`: the weight is stored transposed (`[in, out]`) in that type, cast to the
 *   input's type when it differs, and multiplied with `MatMul`. A `tensor` weight is referenced in
 *   place and transposed by a `Transpose` node (onnxruntime folds Cast/Transpose of initializers
 *   once, at session creation, into memory: the in-place file then only saves the copy into the model).
 * - `int8` / `int4`: the weight is quantized by `quantizeBlockwise` (symmetric, `blockSize`
 *   inputs per scale, `in` zero-padded to a whole block) and multiplied with `com.microsoft::MatMulNBits`;
 *   scales are stored in the input's type, as the op requires.
 *
 * Throws `GraphBuildError` (bad shapes, duplicate names, a mismatched pre-quantized weight) or, for a
 * `tensor` weight that cannot be read, `SafetensorsFormatError`.
 */
export const linear = (g: GraphBuilder, x: string, weight: LinearWeight, options: LinearOptions): string => {
  const { name, precision } = options
  const inputType = options.inputType ?? "float32"
  const [out, inp] = weightShape(weight, name)
  const y =
    precision === "int8" || precision === "int4"
      ? quantizedMatMul(g, x, weight, options, inputType, out, inp)
      : floatMatMul(g, x, weight, precision, name, inputType, out, inp)
  if (options.bias === undefined) return y
  let bias: string
  if (typeof options.bias === "string") bias = options.bias
  else {
    if (options.bias.length !== out)
      throw new GraphBuildError({
        reason: `linear "${name}": bias has ${options.bias.length} values for ${out} outputs`,
      })
    bias = g.initializer(`${name}.bias`, {
      type: inputType,
      dims: [out],
      data: inputType === "float16" ? float32ToF16(options.bias) : options.bias,
    })
  }
  return g.op("Add", [y, bias], {}, { name: `${name}_bias` })
}

const floatMatMul = (
  g: GraphBuilder,
  x: string,
  weight: LinearWeight,
  precision: "float32" | "float16",
  name: string,
  inputType: "float32" | "float16",
  out: number,
  inp: number,
): string => {
  if ("quantized" in weight)
    throw new GraphBuildError({
      reason: `linear "${name}": a quantized weight needs precision int8 or int4, not ${precision}`,
    })
  let w: string
  if ("data" in weight) {
    if (weight.data.length !== out * inp)
      throw new GraphBuildError({
        reason: `linear "${name}": ${weight.data.length} values for shape [${out}, ${inp}]`,
      })
    const t = transposeToInOut(weight.data, out, inp)
    w = g.initializer(`${name}.weight`, {
      type: precision,
      dims: [inp, out],
      data: precision === "float16" ? float32ToF16(t) : t,
    })
    w = castTo(g, w, precision, inputType, `${name}_weight`)
  } else {
    const info = weight.tensor
    const stored = STORED_TYPE[info.dtype]
    if (!stored)
      throw new GraphBuildError({
        reason: `linear "${name}": tensor "${info.name}" is ${info.dtype}; F32, F16 or BF16 expected`,
      })
    w = g.externalInitializer(`${name}.weight`, {
      type: stored,
      dims: [out, inp],
      file: info.path,
      offset: info.byteOffset,
      length: info.byteLength,
    })
    w = castTo(g, castTo(g, w, stored, precision, `${name}_weight`), precision, inputType, `${name}_weight`)
    w = g.op("Transpose", [w], { perm: [1, 0] }, { name: `${name}_weight_t` })
  }
  return g.op("MatMul", [x, w], {}, { name })
}

const quantizedMatMul = (
  g: GraphBuilder,
  x: string,
  weight: LinearWeight,
  options: LinearOptions,
  inputType: "float32" | "float16",
  out: number,
  inp: number,
): string => {
  const { name } = options
  const bits = options.precision === "int4" ? 4 : 8
  const blockSize = options.blockSize ?? 32
  let q: BlockwiseQuantized
  if ("quantized" in weight) {
    q = weight.quantized
    if (q.bits !== bits || q.blockSize !== blockSize)
      throw new GraphBuildError({
        reason: `linear "${name}": pre-quantized weight has ${q.bits} bits, block ${q.blockSize}; asked for ${bits} bits, block ${blockSize}`,
      })
  } else {
    const data = "data" in weight ? weight.data : readTensorFloat32(weight.tensor)
    if (data.length !== out * inp)
      throw new GraphBuildError({
        reason: `linear "${name}": ${data.length} values for shape [${out}, ${inp}]`,
      })
    q = quantizeBlockwise(data, [out, inp], { bits, blockSize })
  }
  const packed = g.initializer(`${name}.weight`, { type: "uint8", dims: q.dims, data: q.packed })
  const scales = g.initializer(`${name}.scales`, {
    type: inputType,
    dims: q.scalesDims,
    data: inputType === "float16" ? float32ToF16(q.scales) : q.scales,
  })
  const [y] = g.msOp(
    "MatMulNBits",
    [x, packed, scales],
    { K: q.k, N: q.n, bits, block_size: blockSize, accuracy_level: options.accuracyLevel ?? 0 },
    1,
    { name },
  )
  return y!
}
