/** The services the loop drives, re-exported from the packages that own them (one place to read). */
export {
  type AudioError,
  AudioSink,
  type AudioSinkShape,
  AudioSource,
  type AudioSourceShape,
} from "@personaplex/audio-io"
export {
  type CodecError,
  FRAME_RATE,
  FRAME_SIZE,
  MimiCodec,
  type MimiCodecShape,
  SAMPLE_RATE,
} from "@personaplex/codec"
export {
  type CompactionError,
  type CompactionInput,
  type CompactionResult,
  Compactor,
  type CompactorShape,
  countWords,
  fallbackPrompt,
  type WindowTranscript,
  wrapWithSystemTags,
} from "@personaplex/compaction"
export {
  type LmError,
  LmGen,
  type LmGenShape,
  type SystemPrompt,
  TEXT_PAD,
  TextTokenizer,
  type TextTokenizerShape,
  VoicePrompt,
} from "@personaplex/lm"
export {
  type FrameActivity,
  VoiceActivity,
  type VoiceActivityError,
  type VoiceActivityShape,
} from "@personaplex/vad"
