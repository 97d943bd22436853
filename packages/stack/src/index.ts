export {
  ConfigError,
  decodeRunConfig,
  loadRunConfig,
  parseRunConfig,
  type RunConfig,
  RunConfigSchema,
  resolvePaths,
} from "./config.ts"
export { defined } from "./defined.ts"
export { packageRootOf } from "./packageRoot.ts"
export {
  type CompactorChoice,
  DEFAULT_PROMPT,
  DEFAULT_TRANSCRIBER_REPO,
  DEFAULT_WINDOW_SECONDS,
  type ModelSource,
  type RunOverrides,
  type RunSettings,
  resolveSettings,
  secondsToFrames,
  type TranscriberChoice,
} from "./settings.ts"
export { ensureSmokeModels, SmokeModelError, type SmokeModels, smokeAssets } from "./smokeModels.ts"
export {
  codecLayer,
  codecRuntimeLayer,
  compactorLayer,
  engineLayer,
  listenersLayer,
  lmBatchLayer,
  loadVoice,
  loopOptions,
  type ModelFiles,
  modelLayer,
  resolveModelFiles,
  runtimeLayer,
  SettingsFileError,
  transcriberLayer,
  voiceActivityLayer,
} from "./wiring.ts"
