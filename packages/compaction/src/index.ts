export { Compactor, DEFAULT_DEADLINE, type GuardOptions, modelFreeCompactor } from "./Compactor.ts"
export { type DeadlineOptions, fallbackPrompt, type GuardedCompactorShape, withDeadline } from "./deadline.ts"
export {
  type CompactionError,
  CompactionInputError,
  GenerationError,
  HttpCompactorError,
  ModelLoadError,
  ModelOutputError,
} from "./errors.ts"
export { extractiveInformation, extractivePrompt } from "./extractive.ts"
export {
  formatHarnessTable,
  type HarnessOptions,
  type HarnessReport,
  type RoundReport,
  runHarness,
  type ScenarioReport,
} from "./harness/runHarness.ts"
export {
  factSurvives,
  type PlantedFact,
  SCENARIOS,
  type Scenario,
  scenarioWindows,
} from "./harness/scenarios.ts"
export {
  acquireLlamaEngine,
  type GenerateRequest,
  type Generation,
  type LlamaCppOptions,
  type LlamaDevice,
  type LlamaEngine,
  type LlamaEngineOptions,
  type LlamaGpu,
  makeLlamaCppCompactor,
  type PromptTokens,
  type WarmUp,
} from "./llamaCpp.ts"
export { enforceBudget, enforceWordBudget, makeCompactor, type ResolvedInput } from "./makeCompactor.ts"
export { CompactionMetrics } from "./metrics.ts"
export {
  chatCompletionsUrl,
  makeOpenAiCompatibleCompactor,
  type OpenAiCompatibleOptions,
} from "./openAiCompatible.ts"
export { INFORMATION_LABEL, informationOf, promptWords, shapePrompt } from "./promptShape.ts"
export {
  COMPACTION_JSON_SCHEMA,
  defaultInstructions,
  type OutputMode,
  parseJsonAnswer,
  promptFromJson,
  promptFromOutput,
  promptFromText,
  renderRequest,
  renderTranscript,
  salvageTruncatedJson,
  type WrittenPrompt,
} from "./promptTemplate.ts"
export { unwrapSystemTags, wrapWithSystemTags } from "./systemTags.ts"
export {
  encodeGguf,
  GGML_TYPES,
  type GgmlType,
  type GgufTensor,
  type GgufTensorSource,
  type GgufValue,
  tensorBytes,
  writeGguf,
  writeGgufStream,
} from "./testing/gguf.ts"
export {
  INSTRUCT_MODELS,
  type InstructGguf,
  type InstructGgufOptions,
  type InstructModel,
  type InstructQuantization,
  type InstructShape,
  writeInstructGguf,
} from "./testing/instructGguf.ts"
export { type TinyLlama, type TinyLlamaOptions, writeTinyLlamaGguf } from "./testing/tinyLlama.ts"
export {
  type CompactionInput,
  type CompactionResult,
  type CompactionSource,
  type CompactorShape,
  DEFAULT_WORD_BUDGET,
  type SpeakerTurn,
  type WindowTranscript,
} from "./types.ts"
export { countWords, truncateToWords } from "./wordBudget.ts"
