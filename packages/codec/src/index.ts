export {
  FRAME_RATE,
  FRAME_SIZE,
  MimiConfig,
  type QuantizerConfig,
  SAMPLE_RATE,
  type SeanetConfig,
  type TransformerConfig,
} from "./config.ts"
export {
  BatchRowError,
  BatchWidthError,
  CodeCountError,
  type CodecError,
  CodeRangeError,
  FrameLengthError,
  MimiConfigError,
} from "./errors.ts"
export type { GraphForms } from "./graph/StepGraph.ts"
export { MimiBatch, type MimiBatchError, type MimiBatchOptions, type MimiBatchShape } from "./MimiBatch.ts"
export {
  type CodeMatrix,
  MimiCodec,
  type MimiCodecOptions,
  type MimiCodecShape,
  type MimiForm,
} from "./MimiCodec.ts"
export { CodecMetrics } from "./metrics.ts"
export { checkpointTensors, decoderTensors, encoderTensors, type TensorSpec } from "./plan.ts"
export { writeRandomMimiCheckpoint } from "./randomCheckpoint.ts"
export { decodeFrames, encodeFrames } from "./streams.ts"
