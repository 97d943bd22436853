export { type LmTensorShape, lmCheckpointTensors } from "./checkpointTensors.ts"
export {
  CONTEXT_CHOICES,
  DEFAULT_SILENCE_FRAMES,
  SILENCE_TOKENS,
  SINE_TOKENS,
  TEXT_EPAD,
  TEXT_PAD,
  ZERO_TOKEN,
} from "./constants.ts"
export {
  LmConfigError,
  type LmError,
  LmInputError,
  LmRuntimeError,
  LmWeightsError,
  VoicePromptFileError,
} from "./errors.ts"
export type { StepResult } from "./generation.ts"
export type { Quantization } from "./graph/quantize.ts"
export type { WeightStorage } from "./graph/weights.ts"
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
export { defaultSampling, Prng, type SamplingOptions } from "./sampling.ts"
export { generateFrames } from "./streams.ts"
export type { ProvidedTokens, TokenRingState } from "./TokenRing.ts"
export { type ScriptedFrame, scriptedMoshiLm } from "./testing.ts"
export * from "./tokenizer/index.ts"
export {
  type AudioVoicePrompt,
  type CachedVoicePrompt,
  loadVoicePrompt,
  saveVoicePrompt,
  VOICE_PROMPT_FORMAT,
  VoicePrompt,
} from "./VoicePrompt.ts"
