export {
  type CheckpointView,
  DEPFORMER_STEPS,
  type DepformerPatchReport,
  patchDepformerSteps,
  patchDepformerStepsSync,
  type TensorOrigin,
  type TensorSegment,
  type ViewTensorInfo,
} from "./checkpoint/depformerPatch.ts"
export {
  type CheckpointHeaders,
  type Detection,
  detectModel,
  type LmArchitecture,
  type MimiArchitecture,
  type ModelKind,
  modelKindLabel,
} from "./checkpoint/detect.ts"
export {
  type CheckpointSummary,
  type DtypeCount,
  inspectCheckpoints,
  type KvCacheEstimate,
  type MemoryEstimate,
  type Quantization,
  type RenderOptions,
  renderInspection,
} from "./checkpoint/inspect.ts"
export {
  ArchiveError,
  DownloadIncompleteError,
  HubAuthError,
  HubRequestError,
  HubUnreachableError,
  IntegrityError,
  ModelFileMissingError,
  TorchFormatError,
  WrongModelError,
} from "./errors.ts"
export { ALL_FILES, PERSONAPLEX_REPO, type PersonaPlexFile, PersonaPlexFiles } from "./files.ts"
export { type DownloadOptions, downloadFile, PARTIAL_SUFFIX, resolveUrl, verifyFile } from "./hub/download.ts"
export { type HubLocation, headRemoteFile, listRepoFiles, type RemoteFile } from "./hub/listing.ts"
export {
  formatBytes,
  type ProgressEvent,
  type ProgressListener,
  type ProgressRendererOptions,
  renderProgress,
} from "./hub/progress.ts"
export { RequestTimeout, type RequestTiming, withRequestTimeout } from "./hub/timedFetch.ts"
export { type Env, type FoundToken, findHuggingFaceToken, huggingFaceHome } from "./hub/token.ts"
export {
  DEFAULT_ENDPOINT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  defaultCacheDir,
  type ModelStoreConfig,
  modelStoreConfig,
} from "./store/config.ts"
export {
  type FetchEvent,
  type ModelFiles,
  ModelStore,
  type ModelStoreError,
  type ModelStoreShape,
  type ResolveOptions,
} from "./store/ModelStore.ts"
export { extractVoices, voiceNames } from "./store/voicesArchive.ts"
export {
  readTorchArchive,
  STORAGE_DTYPES,
  TorchArchiveError,
  type TorchDType,
  type TorchTensor,
} from "./torch/archive.ts"
export { PickleError, PickleGlobal, unpickle } from "./torch/pickle.ts"
export {
  type ImportedVoice,
  importVoicePrompts,
  readVoicePrompt,
  writeVoicePromptSafetensors,
} from "./torch/voiceImport.ts"
export {
  decodeTorchVoicePrompt,
  readTorchVoicePrompt,
  type TorchVoicePrompt,
  VOICE_CACHE_SLOTS,
  VOICE_CACHE_STREAMS,
} from "./torch/voicePrompt.ts"
