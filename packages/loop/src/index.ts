export { ConversationLoop, type ConversationLoopShape, conversationEvents } from "./ConversationLoop.ts"
export { compactSafely } from "./compactSafely.ts"
export { LoopOptionsError } from "./errors.ts"
export { LoopEvent } from "./events.ts"
export { type FrameReader, makeFrameReader } from "./FrameReader.ts"
export { LoopMetrics } from "./metrics.ts"
export { FRAME_MS, type LoopOptions, type Pace } from "./options.ts"
export {
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
