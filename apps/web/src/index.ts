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
  type BatchStatus,
  type FrameScheduler,
  makeFrameScheduler,
  makeScheduledInput,
  TICK_MS,
  type TickMember,
} from "./server/frame-scheduler.ts"
export { type LogFormat, logEvent, loggerLayer } from "./server/logging.ts"
export {
  type BatchedLoopEngineOptions,
  type ConversationModels,
  defaultLoadVoice,
  LoopEngine,
  type LoopEngineOptions,
  type LoopRunOptions,
} from "./server/loop-engine.ts"
export {
  type EngineName,
  parseServerArgs,
  type ServerArgs,
  ServerArgsError,
  type Started,
  startServer,
  usage,
} from "./server/main.ts"
export { WebMetrics } from "./server/metrics.ts"
export {
  batchedLoopEngine,
  defaultSmokeCache,
  EngineSettingsError,
  type ModelEngineOptions,
  type ModelPaths,
  modelLoopEngine,
  settingsFromConfig,
  settingsLoopEngine,
  smokeLoopEngine,
} from "./server/model-engines.ts"
export { OggPageScanner, oggPageCrc } from "./server/ogg-pages.ts"
export { FRAME_SIZE, OggOpusReader, OggOpusWriter, SAMPLE_RATE } from "./server/opus-ogg.ts"
export { ReleaseVoicesError, releaseVoicesFolder } from "./server/release-voices.ts"
export {
  DEFAULT_TEXT_PROMPT,
  type Health,
  serve,
  type WebServer,
  type WebServerOptions,
} from "./server/server.ts"
export {
  ensureSmokeVoices,
  SmokeVoicesError,
  UPSTREAM_DEFAULT_VOICE,
  UPSTREAM_VOICE_NAMES,
} from "./server/smoke-voices.ts"
export { loadTls, selfSignedCertificate, type TlsChoice, TlsError, type TlsMaterial } from "./server/tls.ts"
export { upstreamClientQuery } from "./server/upstream-client-query.ts"
export { type Voice, VoiceCatalog } from "./server/voices.ts"
export {
  makeWaitingRoom,
  type WaitingRoom,
  WaitingRoomFull,
  type WaitingRoomOptions,
  WaitTimedOut,
} from "./server/waiting-room.ts"
export type * from "./shared/events.ts"
export * from "./shared/protocol.ts"
