export { type LmTensorShape, lmCheckpointTensors, numel, parameterCount } from "./checkpointTensors.ts"
export {
  CONTEXT_CHOICES,
  DEFAULT_SILENCE_FRAMES,
  SILENCE_TOKENS,
  SINE_TOKENS,
  TEXT_EPAD,
  TEXT_PAD,
  ZERO_TOKEN,
} from "./constants.ts"
export { eightStepSource, resolveDepformerTensor, stackedStep } from "./depformerPatch.ts"
export type {
  EngineStepInput,
  EngineStepOutput,
  LmEngineForm,
  LmEngineShape,
  LmEngineState,
} from "./engine/LmEngine.ts"
export { twoGraphEngine } from "./engine/twoGraph.ts"
export {
  LmConfigError,
  type LmError,
  LmInputError,
  LmRuntimeError,
  LmWeightsError,
  VoicePromptFileError,
} from "./errors.ts"
export { type ConvertedWeights, type ConvertOptions, convertWeights } from "./fused/convert/convert.ts"
export {
  type ConvertedTensor,
  type Extent,
  type GpuPrecision,
  planLayout,
  QUANT_BLOCK,
  type WeightLayout,
} from "./fused/convert/layout.ts"
export { type FusedEngineOptions, openFusedEngine } from "./fused/FusedEngine.ts"
export {
  cacheLengthInputs,
  type GpuLm,
  GpuLmContextFull,
  type GpuLmError,
  GpuLmNoSharedCodes,
  GpuLmNoSnapshot,
  type GpuLmOpened,
  type GpuLmOptions,
  type GpuLmSampling,
  type GpuLmStep,
  openGpuLm,
  positionInputs,
  tokenInputs,
} from "./fused/FusedStep.ts"
export {
  buildStepGraph,
  type GpuAttention,
  type GpuSampling,
  type KvCacheType,
  type StepGraphOptions,
  StepIo,
} from "./fused/stepGraph.ts"
export type { StepResult } from "./generation.ts"
export { QUANTIZATIONS, type Quantization } from "./graph/quantize.ts"
export type { WeightStorage } from "./graph/weights.ts"
export type { LmBaseShape } from "./LmBaseShape.ts"
export {
  BATCH_SIZES,
  LmBatch,
  LmBatchFull,
  type LmBatchOptions,
  type LmBatchShape,
  type LmJoinOptions,
  type LmSession,
  type LmSessionSampling,
} from "./LmBatch.ts"
export { LmConfig } from "./LmConfig.ts"
export { LmGen, type LmGenOptions, type LmGenShape, type LmGenSnapshot, type SystemPrompt } from "./LmGen.ts"
export { integratedLoudness, normalizeLoudness } from "./loudness.ts"
export {
  type DepformerInput,
  type DepformerOutput,
  MoshiLm,
  type MoshiLmOptions,
  type MoshiLmShape,
  type MoshiLmState,
  type Sampler,
  type TemporalInput,
  type TemporalOutput,
} from "./MoshiLm.ts"
export { LmMetrics } from "./metrics.ts"
export { voiceFrames, wrapWithSystemTags } from "./prompts.ts"
export { writeRandomLmCheckpoint } from "./randomCheckpoint.ts"
export { defaultSampling, type FrameSamplers, Prng, Samplers, type SamplingOptions } from "./sampling.ts"
export { generateFrames } from "./streams.ts"
export type { ProvidedTokens, TokenRingState } from "./TokenRing.ts"
export { type ScriptedFrame, scriptedMoshiLm, tinyLmConfig } from "./testing.ts"
export * from "./tokenizer/index.ts"
export {
  type AudioVoicePrompt,
  type CachedVoicePrompt,
  loadVoicePrompt,
  saveVoicePrompt,
  VOICE_PROMPT_FORMAT,
  VoicePrompt,
} from "./VoicePrompt.ts"
