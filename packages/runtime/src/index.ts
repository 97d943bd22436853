/**
 * `@personaplex/runtime`: what every model package needs to run a network from TypeScript.
 *
 * - Weights: `Checkpoint` reads `.safetensors` files and shard sets lazily (F32/F16/BF16/ints,
 *   widened to Float32 on request); `writeSafetensors` writes them; `TensorInfo` says where a
 *   tensor's bytes lie so an ONNX graph can point at them in place; `tensorsFromStatistics` draws a
 *   model's random tensors from a per-tensor statistics manifest (what the random-checkpoint writers
 *   of the codec and the LM take as `RandomCheckpointOptions.statistics`).
 * - Graphs: `GraphBuilder` emits ONNX models op by op (`input`, `initializer`,
 *   `externalInitializer`, `op`, `msOp`, `output`, then `toBytes()` or `save(path)`).
 * - Linear layers: `linear(g, x, weight, { name, precision })` is the building block for every
 *   `nn.Linear` of the codec and the LM. The weight is given in PyTorch layout `[out, in]`
 *   (`{ data, shape }`, `{ tensor: checkpoint.infoSync(name) }`, or `{ quantized }`), and the
 *   precision picks the graph:
 *   - `"float32"` / `"float16"`: `MatMul` with the weight stored transposed in that type (cast to
 *     the input's type if needed);
 *   - `"int8"` / `"int4"`: `com.microsoft::MatMulNBits` with weights from `quantizeBlockwise`
 *     (symmetric, `blockSize` inputs per scale, default 32; `in` need not be a multiple).
 *   `bias` adds an `Add`; `inputType: "float16"` builds the half-precision variant.
 *   ```ts
 *   const g = new GraphBuilder("mlp")
 *   const x = g.input("x", "float32", ["batch", 4096])
 *   const h = linear(g, x, { tensor: ckpt.infoSync("layers.0.linear_in.weight") }, { name: "l0.in", precision: "int4" })
 *   ```
 * - Sessions: the `OrtSession` service (`OrtSession.layer({ executionProviders })`,
 *   `OrtSession.layerCpu`) opens scoped onnxruntime sessions that run in a worker thread, so the
 *   event loop keeps serving audio while a model runs.
 */
export { bf16ToFloat32, DTYPE_BYTES, type DType, f16ToFloat32, float32ToBf16, float32ToF16 } from "./dtype.ts"
export {
  GraphBuildError,
  MissingTensorError,
  OrtSessionError,
  SafetensorsFormatError,
  TensorMismatchError,
  TensorStatisticsError,
} from "./errors.ts"
export { upstreamFixturesDir, workspaceRoot } from "./fixtures.ts"
export {
  type ExecutionProvider,
  type Feeds,
  OrtSession,
  type OrtSessionConfig,
  type OrtSessionShape,
  type OrtTensor,
  ortWorkerExecArgv,
  type RunOptions,
  type Session,
  type SessionSpec,
  type SharedValue,
  type StateBinding,
  type TensorType,
  type WebGpuOptions,
} from "./OrtSession.ts"
export {
  Attr,
  type Attributes,
  type AttributeValue,
  type Dim,
  ELEMENT_TYPE_CODE,
  type ElementType,
  type ExternalTensor,
  GraphBuilder,
  type InlineTensor,
  type OpOptions,
  type SaveOptions,
} from "./onnx/GraphBuilder.ts"
export { type LinearOptions, type LinearPrecision, type LinearWeight, linear } from "./onnx/linear.ts"
export { searchGrid } from "./onnx/searchGrid.ts"
export {
  type BlockwiseQuantized,
  dequantizeBlockwise,
  type QuantBits,
  type QuantBlockSize,
  type QuantizeOptions,
  quantizeBlockwise,
} from "./quant/blockwise.ts"
export { makeRng } from "./random.ts"
export { Checkpoint, SHARD_INDEX, type Tensor } from "./safetensors/Checkpoint.ts"
export { type TypedData, toFloat32, toInt32, viewAs } from "./safetensors/decode.ts"
export { SafetensorsFile, type TensorInfo } from "./safetensors/SafetensorsFile.ts"
export { type TensorToWrite, writeSafetensors } from "./safetensors/write.ts"
export {
  type RandomCheckpointOptions,
  type TensorStatistics,
  tensorsFromStatistics,
} from "./tensorStatistics.ts"
export { type IsolatedRun, runNodeIsolated, webGpuUnavailable } from "./webGpuProbe.ts"
