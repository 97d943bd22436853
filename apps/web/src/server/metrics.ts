import { Metric } from "effect"

/** The server's Effect metrics (read them with `Metric.value` or any metrics exporter). */
export const WebMetrics = {
  sessionsStarted: Metric.counter("personaplex_web_sessions_started", {
    description: "conversations that got the handshake",
  }),
  /** Refused connections; attribute `reason`: busy, voice, request, engine. */
  refusals: Metric.counter("personaplex_web_refusals", {
    description: "connections refused with a 0x05 error",
  }),
  /** Client messages ignored (empty, unknown kind, text frame, undecodable Opus). */
  ignoredMessages: Metric.counter("personaplex_web_ignored_messages", {
    description: "client messages ignored as malformed",
  }),
  framesIn: Metric.counter("personaplex_web_frames_in", { description: "user frames handed to the engine" }),
  framesOut: Metric.counter("personaplex_web_frames_out", { description: "agent frames sent to clients" }),
}
