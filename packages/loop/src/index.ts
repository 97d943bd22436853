export { ConversationLoop, type ConversationLoopShape, conversationEvents } from "./ConversationLoop.ts"
export { compactSafely } from "./compactSafely.ts"
export { LoopOptionsError } from "./errors.ts"
export { LoopEvent } from "./events.ts"
export { type FrameReader, makeFrameReader } from "./FrameReader.ts"
export { LoopMetrics } from "./metrics.ts"
export {
  DEFAULT_PAUSE_MS,
  DEFAULT_REDO_MIN_WORDS,
  type EarlyCompactionOptions,
  FRAME_MS,
  type LoopOptions,
  type Pace,
  type SwitchPolicy,
} from "./options.ts"
export {
  type CompactionStage,
  type PromptSource,
  ReportWriteError,
  type RunReport,
  type RunStatus,
  type SwitchReport,
  summarize,
  type TimingSummary,
  type WindowReport,
  writeReport,
} from "./report.ts"
export { type LoopError, type LoopServices, runConversation } from "./runConversation.ts"
export type { SwitchReason } from "./switchPolicy.ts"
export type { DialogueTurn, UserTranscriptReport } from "./userSide.ts"
