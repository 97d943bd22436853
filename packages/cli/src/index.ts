export { cli, version } from "./cli.ts"
export { CommandFailed } from "./commands/failure.ts"
export {
  ConfigError,
  decodeRunConfig,
  loadRunConfig,
  parseRunConfig,
  type RunConfig,
  RunConfigSchema,
  resolvePaths,
} from "./config.ts"
export {
  type ConversationRequest,
  type InputChoice,
  type OutputChoice,
  reportPathFor,
  runFromSettings,
} from "./conversation.ts"
export { ensureSmokeModels, SmokeModelError, type SmokeModels, smokeAssets } from "./demo/smokeModels.ts"
export { formatSummary, makeProgress, type ProgressOptions } from "./progress.ts"
export {
  type CompactorChoice,
  DEFAULT_PROMPT,
  DEFAULT_WINDOW_SECONDS,
  type ModelSource,
  type RunOverrides,
  type RunSettings,
  resolveSettings,
  secondsToFrames,
} from "./settings.ts"
export {
  compactorLayer,
  engineLayer,
  loadVoice,
  loopOptions,
  type ModelFiles,
  modelLayer,
  resolveModelFiles,
  SettingsFileError,
} from "./wiring.ts"
