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

const time = (iso: string) => iso.slice(11, 23)

/**
 * One human line per event: `[time] LEVEL session event: message` (the annotations' facts are in the
 * message; a cause follows on its own lines).
 */
export const prettyLine = Logger.map(Logger.formatStructured, (entry) => {
  const { session, event } = entry.annotations as { session?: unknown; event?: unknown }
  const message = Array.isArray(entry.message) ? entry.message.map(String).join(" ") : String(entry.message)
  const who = [session, event].filter((x) => x !== undefined).map(String)
  const head = `[${time(entry.timestamp)}] ${entry.level.padEnd(5)} ${who.length > 0 ? `${who.join(" ")}: ` : ""}${message}`
  return entry.cause === undefined ? head : `${head}\n${entry.cause}`
})

/** `pretty`: one human line per event; `json`: one JSON object per line (message, level, timestamp, annotations). */
export const loggerLayer = (format: LogFormat, level: LogLevel.LogLevel = "Info") =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? Logger.consoleJson : Logger.withConsoleLog(prettyLine)]),
    Layer.succeed(References.MinimumLogLevel, level),
  )
