export {
  type TranscriberError,
  TranscriberInputError,
  TranscriberModelError,
  TranscriberModelMissingError,
  TranscriptionError,
} from "./errors.ts"
export {
  DTYPE_SUFFIX,
  FAMILIES,
  onnxFiles,
  type ResolvedTranscriberModel,
  type ResolveModelOptions,
  resolveTranscriberModel,
  type TranscriberDtype,
  type TranscriberFamily,
  type TranscriberModelSource,
} from "./modelFolder.ts"
export { Segmenter, type SegmenterOptions, type Utterance } from "./segmenter.ts"
export {
  makeTranscriber,
  type Recognize,
  Transcriber,
  type TranscriberInfo,
  type TranscriberLoadError,
  type TranscriberOptions,
  type TranscriberShape,
} from "./Transcriber.ts"
export { type TinyMoonshine, type TinyMoonshineOptions, writeTinyMoonshine } from "./testing/tinyMoonshine.ts"
export { FRAME_MS, FRAME_SAMPLES, INPUT_SAMPLE_RATE, type TranscriptPiece } from "./types.ts"
