import { Deferred, Effect, Metric, Option, Queue, Stream } from "effect"
import type { WebSocket } from "ws"
import type { ServerEvent, StatsEvent } from "../shared/events.ts"
import {
  CloseCode,
  decodeMessage,
  describeMalformed,
  encodeAudio,
  encodeError,
  encodeHandshake,
  encodeMetadata,
  encodeText,
} from "../shared/protocol.ts"
import { ConversationEngine, type EngineEvent, type EngineSession } from "./engine.ts"
import { logEvent } from "./logging.ts"
import { WebMetrics } from "./metrics.ts"
import { OggOpusReader, OggOpusWriter } from "./opus-ogg.ts"
import type { Voice } from "./voices.ts"

export interface SessionRequest {
  readonly sessionId: string
  readonly voice: Voice | undefined
  readonly textPrompt: string
  /** The client asked for the JSON event channel (`events=json`). */
  readonly events: boolean
  readonly maxSessions: number
  /** `performance.now()` when the socket opened (close lines give the session's duration). */
  readonly connectedAt: number
}

/** Frame compute over this is a late frame: a frame is 80 ms of audio. */
export const FRAME_BUDGET_MS = 80

/** What one finished session did, for its close line and `/api/health`'s `recentSessions`. */
export interface SessionStats {
  readonly sessionId: string
  readonly closedBy: "client" | "server"
  readonly code: number
  readonly durationMs: number
  /** Prompting time before the handshake (absent when the session ended before it). */
  readonly promptMs?: number
  readonly framesIn: number
  readonly framesOut: number
  /** Frames whose compute (encode, LM step, decode) took more than 80 ms. */
  readonly lateFrames: number
  /** User frames dropped unprocessed because the engine was behind. */
  readonly droppedFrames: number
  /**
   * With the conversations batched (`--max-sessions` above 1): ticks of the server's frame clock that
   * found no frame of the client's, so the model heard silence in its place.
   */
  readonly lateInputFrames?: number
  /** Frame compute times over the whole session. */
  readonly frameMs: {
    readonly count: number
    readonly mean: number
    readonly p50: number
    readonly p95: number
    readonly max: number
  }
  /** Where its models computed, as the engine says (e.g. "LM on webgpu (fused), Mimi on webgpu (captured)"). */
  readonly runsOn?: string
}

/** How many finished sessions `/api/health` lists. */
const RECENT_SESSIONS = 16

/** Live resource counts, for the health endpoint and leak checks, and the last sessions' stats. */
export interface SessionCounters {
  sessions: number
  opusWriters: number
  recent: Array<SessionStats>
}

/** Frame compute times of a whole session. */
class FrameTally {
  private readonly times: Array<number> = []
  late = 0

  add(computeMs: number) {
    this.times.push(computeMs)
    if (computeMs > FRAME_BUDGET_MS) this.late++
  }

  summary(): SessionStats["frameMs"] {
    const sorted = [...this.times].sort((a, b) => a - b)
    const n = sorted.length
    const at = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!)
    const round = (x: number) => Math.round(x * 10) / 10
    return {
      count: n,
      mean: round(n === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / n),
      p50: round(at(0.5)),
      p95: round(at(0.95)),
      max: round(n === 0 ? 0 : sorted[n - 1]!),
    }
  }
}

export const send = (ws: WebSocket, message: Uint8Array): void => {
  if (ws.readyState === ws.OPEN) ws.send(message)
}

/** WebSocket close reasons are limited to 123 bytes. */
const closeReason = (text: string): string => {
  const bytes = new TextEncoder().encode(text)
  return bytes.length <= 123 ? text : new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "")
}

/** Refuses a connection the protocol's way: an error message (kind 0x05), then a close frame. */
export const refuse = (ws: WebSocket, message: string, code: number): Effect.Effect<void> =>
  Effect.sync(() => {
    send(ws, encodeError(message))
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, closeReason(message))
  })

type Incoming = { readonly data: Uint8Array; readonly isBinary: boolean }

/** Frame timings of the last stats period. */
class StatsWindow {
  private times: number[] = []
  last = 0
  framesIn = 0
  framesOut = 0

  add(computeMs: number) {
    this.last = computeMs
    this.times.push(computeMs)
  }

  take(atMs: number, droppedFrames: number): StatsEvent {
    const n = this.times.length
    const sum = this.times.reduce((a, b) => a + b, 0)
    const max = this.times.reduce((a, b) => Math.max(a, b), 0)
    this.times = []
    return {
      type: "stats",
      atMs,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      frameMs: { last: this.last, mean: n > 0 ? sum / n : 0, max },
      rtf: n > 0 ? sum / (n * 80) : 0,
      droppedFrames,
    }
  }
}

/**
 * One conversation over one WebSocket, upstream-spec §5.5: prompt the engine, send the handshake byte,
 * then until either side stops: client Ogg/Opus → 1920-sample frames → engine; engine frames → Ogg/Opus
 * pages (0x01); engine text → 0x02; and, when asked for, engine events → 0x04 JSON.
 * Everything it opened is released when it returns (the socket closed, or the engine failed).
 */
export const runSession = (ws: WebSocket, request: SessionRequest, counters: SessionCounters) => {
  // how the socket ended: set by the client's close frame, or by the server when it closes first
  const ending: { code: number | undefined; reason: string; by: "client" | "server" } = {
    code: undefined,
    reason: "",
    by: "client",
  }
  const traffic = { framesIn: 0, framesOut: 0 }
  const tally = new FrameTally()
  // set once prompting is done: what the close line reports besides the traffic
  let talking: { readonly session: EngineSession; readonly promptMs: number } | undefined
  const serverCloses = (code: number, reason: string) => {
    if (ending.code === undefined) Object.assign(ending, { code, reason, by: "server" })
  }
  return Effect.scoped(
    Effect.gen(function* () {
      const engine = yield* ConversationEngine
      const closed = yield* Deferred.make<void>()
      const inbound = yield* Queue.unbounded<Incoming>()
      const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const bytes = Array.isArray(data)
          ? new Uint8Array(Buffer.concat(data))
          : data instanceof ArrayBuffer
            ? new Uint8Array(data)
            : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        Queue.offerUnsafe(inbound, { data: bytes, isBinary })
      }
      const onClose = (code?: number, reason?: Buffer) => {
        if (ending.code === undefined && code !== undefined)
          Object.assign(ending, { code, reason: reason?.toString() ?? "", by: "client" })
        Deferred.doneUnsafe(closed, Effect.void)
      }
      const onError = () => onClose()
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          counters.sessions++
          ws.on("message", onMessage)
          ws.on("close", onClose)
          ws.on("error", onError)
          if (ws.readyState !== ws.OPEN) onClose()
        }),
        () =>
          Effect.gen(function* () {
            counters.sessions--
            ws.off("message", onMessage)
            ws.off("close", onClose)
            ws.off("error", onError)
            if (ws.readyState === ws.OPEN) {
              serverCloses(CloseCode.Normal, "session ended")
              ws.close(CloseCode.Normal, "session ended")
            }
            const durationMs = Math.round(performance.now() - request.connectedAt)
            const code = ending.code ?? CloseCode.Abnormal
            const stats: SessionStats = {
              sessionId: request.sessionId,
              closedBy: ending.by,
              code,
              durationMs,
              ...(talking === undefined ? {} : { promptMs: talking.promptMs }),
              ...traffic,
              lateFrames: tally.late,
              droppedFrames: talking === undefined ? 0 : yield* talking.session.droppedFrames,
              ...(talking?.session.lateInputFrames === undefined
                ? {}
                : { lateInputFrames: yield* talking.session.lateInputFrames }),
              frameMs: tally.summary(),
              ...(talking?.session.runsOn === undefined ? {} : { runsOn: talking.session.runsOn }),
            }
            counters.recent.push(stats)
            if (counters.recent.length > RECENT_SESSIONS) counters.recent.shift()
            const f = stats.frameMs
            yield* logEvent(
              "Info",
              "close",
              `closed by the ${ending.by}: code ${code}${ending.reason === "" ? "" : ` (${ending.reason})`}, after ${(durationMs / 1000).toFixed(1)} s, ${traffic.framesIn} frames in, ${traffic.framesOut} out, ${stats.lateFrames} late (compute > ${FRAME_BUDGET_MS} ms), ${stats.droppedFrames} dropped; frame p50 ${f.p50} ms, p95 ${f.p95} ms, max ${f.max} ms${stats.lateInputFrames === undefined ? "" : `; ${stats.lateInputFrames} late input frames (silence in their place)`}`,
              {
                code,
                reason: ending.reason,
                by: ending.by,
                durationMs,
                ...traffic,
                lateFrames: stats.lateFrames,
                droppedFrames: stats.droppedFrames,
                ...(stats.lateInputFrames === undefined ? {} : { lateInputFrames: stats.lateInputFrames }),
                frameMs: f,
                ...(stats.runsOn === undefined ? {} : { runsOn: stats.runsOn }),
              },
            )
          }),
      )

      const emit = (event: ServerEvent) => {
        if (request.events) send(ws, encodeMetadata(event))
      }

      // Prompting (voice, silence, text) happens here; a client that leaves meanwhile ends it.
      const promptStart = performance.now()
      const started = yield* Effect.raceFirst(
        Effect.map(
          engine.start({
            sessionId: request.sessionId,
            voice: request.voice,
            textPrompt: request.textPrompt,
          }),
          Option.some,
        ),
        Effect.as(Deferred.await(closed), Option.none()),
      )
      if (Option.isNone(started)) return
      const session = started.value
      const writer = yield* Effect.acquireRelease(
        Effect.promise(() => OggOpusWriter.open((page) => send(ws, encodeAudio(page)))).pipe(
          Effect.tap(() => Effect.sync(() => counters.opusWriters++)),
        ),
        (w) =>
          // the last page goes nowhere once the socket is closed; a muxer error there changes nothing
          Effect.promise(() => w.close().catch(() => undefined)).pipe(
            Effect.ensuring(Effect.sync(() => counters.opusWriters--)),
          ),
      )
      const reader = new OggOpusReader()
      const stats = new StatsWindow()

      // Audio sent while the model was being prompted is dropped, as upstream does.
      yield* Queue.clear(inbound)
      send(ws, encodeHandshake())
      const promptMs = Math.round(performance.now() - promptStart)
      talking = { session, promptMs }
      yield* logEvent(
        "Info",
        "handshake",
        `handshake after ${promptMs} ms of prompting${session.runsOn === undefined ? "" : `; ${session.runsOn}`}`,
        { promptMs, ...(session.runsOn === undefined ? {} : { runsOn: session.runsOn }) },
      )
      yield* Metric.update(WebMetrics.sessionsStarted, 1)
      const t0 = performance.now()
      const now = () => Math.round(performance.now() - t0)
      emit({
        type: "hello",
        sessionId: request.sessionId,
        voice: request.voice?.name ?? "",
        textPrompt: request.textPrompt,
        engine: engine.name,
        maxSessions: request.maxSessions,
      })

      const warn = (message: string) =>
        logEvent("Warn", "warning", message).pipe(
          Effect.andThen(Metric.update(WebMetrics.ignoredMessages, 1)),
          Effect.andThen(Effect.sync(() => emit({ type: "warning", message }))),
        )

      const receive = Effect.forever(
        Effect.gen(function* () {
          const { data, isBinary } = yield* Queue.take(inbound)
          if (!isBinary) return yield* warn("ignored a text frame: the protocol uses binary messages")
          const message = decodeMessage(data)
          switch (message.kind) {
            case "malformed":
              return yield* warn(`ignored ${describeMalformed(message)}`)
            case "audio": {
              const { frames, problems } = reader.push(message.payload)
              for (const problem of problems) yield* warn(problem)
              for (const frame of frames) {
                stats.framesIn++
                traffic.framesIn++
                yield* session.pushFrame(frame)
              }
              if (frames.length > 0) yield* Metric.update(WebMetrics.framesIn, frames.length)
              return
            }
            default:
              // control, ping, ...: accepted and ignored, as upstream does
              return
          }
        }),
      )
      const play = Stream.runForEach(session.frames, (frame) =>
        Effect.promise(() => writer.write(frame)).pipe(
          Effect.andThen(
            Effect.sync(() => {
              stats.framesOut++
              traffic.framesOut++
            }),
          ),
          Effect.andThen(Metric.update(WebMetrics.framesOut, 1)),
        ),
      )
      const speak = Stream.runForEach(session.text, (piece) => Effect.sync(() => send(ws, encodeText(piece))))
      const report = Stream.runForEach(session.events, (event: EngineEvent) =>
        Effect.gen(function* () {
          switch (event._tag) {
            case "FrameTiming":
              tally.add(event.computeMs)
              return stats.add(event.computeMs)
            case "Prompt":
              return emit({
                type: "prompt",
                prompt: event.prompt,
                source: event.source,
                windowIndex: event.windowIndex,
              })
            case "WindowStart":
              yield* logEvent("Info", "window", `window ${event.index} starts`, {
                window: event.index,
                phase: "start",
              })
              return emit({ type: "window", phase: "start", index: event.index, atMs: now() })
            case "WindowEnd":
              yield* logEvent(
                "Info",
                "window",
                `window ${event.index} ends (${event.agentText.length} characters of agent text)`,
                { window: event.index, phase: "end", agentChars: event.agentText.length },
              )
              return emit({
                type: "window",
                phase: "end",
                index: event.index,
                atMs: now(),
                agentText: event.agentText,
              })
            case "Compaction":
              yield* logEvent(
                "Info",
                "compaction",
                `switch after window ${event.index}: ${Math.round(event.pauseMs)} ms pause, prompt from ${event.source} in ${Math.round(event.durationMs)} ms`,
                {
                  window: event.index,
                  pauseMs: Math.round(event.pauseMs),
                  durationMs: Math.round(event.durationMs),
                  source: event.source,
                  ...(event.reason === undefined ? {} : { reason: event.reason }),
                },
              )
              return emit({
                type: "compaction",
                index: event.index,
                atMs: now(),
                durationMs: event.durationMs,
                pauseMs: event.pauseMs,
                source: event.source,
                prompt: event.prompt,
                ...(event.reason === undefined ? {} : { reason: event.reason }),
              })
          }
        }),
      )
      const tick = Effect.forever(
        Effect.sleep(1000).pipe(
          Effect.andThen(session.droppedFrames),
          Effect.map((dropped) => emit(stats.take(now(), dropped))),
        ),
      )

      const work = Effect.all([receive, play, speak, report, ...(request.events ? [tick] : [])], {
        concurrency: "unbounded",
        discard: true,
      })
      yield* Effect.raceFirst(work, Deferred.await(closed))
    }).pipe(
      // inside the scope: the error message must go out before the finalizer closes the socket
      Effect.catch((error) =>
        Effect.gen(function* () {
          yield* logEvent("Error", "engine-error", `engine failed: ${error.message}`, {
            reason: error.reason,
            ...(error.cause === undefined ? {} : { cause: String(error.cause) }),
          })
          yield* Metric.update(Metric.withAttributes(WebMetrics.refusals, { reason: "engine" }), 1)
          serverCloses(CloseCode.InternalError, `engine failed: ${error.message}`)
          yield* refuse(ws, `engine failed: ${error.message}`, CloseCode.InternalError)
        }),
      ),
    ),
  )
}
