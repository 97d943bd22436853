export { bf16ToFloat32, DTYPE_BYTES, type DType, f16ToFloat32, float32ToBf16, float32ToF16 } from "./dtype.ts"
export {
  GraphBuildError,
  MissingTensorError,
  OrtSessionError,
  SafetensorsFormatError,
  TensorMismatchError,
} from "./errors.ts"
export { upstreamFixturesDir, workspaceRoot } from "./fixtures.ts"
export {
  type ExecutionProvider,
  type Feeds,
  OrtSession,
  type OrtSessionConfig,
  type OrtSessionShape,
  type OrtTensor,
  type Session,
  type SessionSpec,
  type TensorType,
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
export {
  type BlockwiseQuantized,
  dequantizeBlockwise,
  type QuantBits,
  type QuantBlockSize,
  type QuantizeOptions,
  quantizeBlockwise,
} from "./quant/blockwise.ts"
export { Checkpoint, SHARD_INDEX, type Tensor } from "./safetensors/Checkpoint.ts"
export { type TypedData, toFloat32, toInt32, viewAs } from "./safetensors/decode.ts"
export { SafetensorsFile, type TensorInfo } from "./safetensors/SafetensorsFile.ts"
export { type TensorToWrite, writeSafetensors } from "./safetensors/write.ts"
