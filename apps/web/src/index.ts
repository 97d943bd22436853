export { EchoEngine, type EchoEngineOptions } from "./server/echo-engine.ts"
export {
  ConversationEngine,
  type ConversationEngineShape,
  type EngineEvent,
  type EngineSession,
  type EngineStartOptions,
} from "./server/engine.ts"
export {
  BadRequest,
  EngineError,
  InvalidVoiceName,
  ListenError,
  UnknownVoice,
  VoicesFolderError,
} from "./server/errors.ts"
export {
  type ConversationModels,
  defaultLoadVoice,
  LoopEngine,
  type LoopEngineOptions,
} from "./server/loop-engine.ts"
export { WebMetrics } from "./server/metrics.ts"
export {
  defaultSmokeCache,
  type ModelEngineOptions,
  type ModelPaths,
  modelLoopEngine,
  smokeLoopEngine,
} from "./server/model-engines.ts"
export { FRAME_SIZE, OggOpusReader, OggOpusWriter, SAMPLE_RATE } from "./server/opus-ogg.ts"
export { DEFAULT_TEXT_PROMPT, serve, type WebServer, type WebServerOptions } from "./server/server.ts"
export { type Voice, VoiceCatalog } from "./server/voices.ts"
export type * from "./shared/events.ts"
export * from "./shared/protocol.ts"
