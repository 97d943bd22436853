export { upstreamFixturesDir, workspaceRoot } from "./fixtures.ts"
export { Checkpoint, SHARD_INDEX, type Tensor } from "./safetensors/Checkpoint.ts"
export { SafetensorsFile, type TensorInfo } from "./safetensors/SafetensorsFile.ts"
export { toFloat32, toInt32, type TypedData, viewAs } from "./safetensors/decode.ts"
export { type TensorToWrite, writeSafetensors } from "./safetensors/write.ts"
export { bf16ToFloat32, DTYPE_BYTES, type DType, f16ToFloat32, float32ToBf16, float32ToF16 } from "./dtype.ts"
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
export { GraphBuildError, MissingTensorError, OrtSessionError, SafetensorsFormatError, TensorMismatchError } from "./errors.ts"
