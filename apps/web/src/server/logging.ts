import { Effect, Layer, Logger, type LogLevel, References } from "effect"

/** What a server log line is about (the `event` annotation of every line). */
export type LogEventName =
  | "listening"
  | "connect"
  | "queued"
  | "refused"
  | "handshake"
  | "window"
  | "compaction"
  | "warning"
  | "engine-error"
  | "left-waiting"
  | "close"

/**
 * One log line through Effect's logger: a readable message, and the same facts as annotations
 * (`event` plus `fields`) for JSON logs. The session id comes from the caller's `annotateLogs`.
 */
export const logEvent = (
  level: "Debug" | "Info" | "Warn" | "Error",
  event: LogEventName,
  message: string,
  fields: Record<string, unknown> = {},
): Effect.Effect<void> => Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs({ event, ...fields }))

export const LOG_FORMATS = ["pretty", "json"] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
export const LOG_LEVELS = ["Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"] as const

/** `pretty`: one human line per event (annotations after the message); `json`: one JSON object per line. */
export const loggerLayer = (format: LogFormat, level: LogLevel.LogLevel = "Info") =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty({ colors: "auto" })]),
    Layer.succeed(References.MinimumLogLevel, level),
  )
