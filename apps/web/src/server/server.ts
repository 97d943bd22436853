import * as http from "node:http"
import * as https from "node:https"
import * as path from "node:path"
import { Deferred, Effect, FiberSet, Metric } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import type { QueueEvent } from "../shared/events.ts"
import { CloseCode, encodeMetadata } from "../shared/protocol.ts"
import { ConversationEngine } from "./engine.ts"
import { BadRequest, ListenError } from "./errors.ts"
import type { BatchStatus } from "./frame-scheduler.ts"
import { logEvent } from "./logging.ts"
import { WebMetrics } from "./metrics.ts"
import { refuse, runSession, type SessionCounters, type SessionStats, send } from "./session.ts"
import { serveStatic } from "./static-files.ts"
import { VoiceCatalog } from "./voices.ts"
import { makeWaitingRoom } from "./waiting-room.ts"

/** Upstream's client default prompt (upstream-spec §5.4). */
export const DEFAULT_TEXT_PROMPT =
  "You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way."

export interface WebServerOptions {
  /** 0 picks a free port (default 8998, as upstream). */
  readonly port?: number
  /** Default 127.0.0.1: only this machine can connect. */
  readonly host?: string
  /** The folder whose files are the allowed voices (`.pt`, `.safetensors` or `.wav`). */
  readonly voicesDir?: string
  /** The allowed voices as a catalog (wins over `voicesDir`), e.g. the smoke voices. */
  readonly voices?: VoiceCatalog
  /** Used when the query has no voice_prompt; "" means no voice prompt. */
  readonly defaultVoice?: string
  readonly defaultTextPrompt?: string
  /** Concurrent conversations (default 1, as upstream's global lock); later clients wait in line. */
  readonly maxSessions?: number
  /** Clients that may wait for a slot (default 16); one more is answered "busy". */
  readonly maxWaiting?: number
  /** How long a client may wait for a slot before it is answered "busy" (default 300 s). */
  readonly waitTimeoutMs?: number
  /** The built page (default: `public/` next to the server's module); none: no page is served. */
  readonly staticDir?: string | undefined
  /** The longest text prompt accepted, in characters (upstream's page caps at 1000). */
  readonly maxPromptLength?: number
  /** Serve https and wss with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string; readonly key: string }
}

export interface WebServer {
  readonly port: number
  readonly url: string
  /** Sessions with an open socket, engine sessions alive, Opus writers open (leak checks). */
  readonly counts: Effect.Effect<{ sessions: number; engineSessions: number; opusWriters: number }>
}

/** `GET /api/health`: the capacity signal for a load balancer. */
export interface Health {
  readonly status: "ok"
  readonly engine: string
  readonly device: string
  /** Conversations holding a slot (prompting or talking). */
  readonly sessions: number
  readonly maxSessions: number
  /** Clients waiting in line for a slot. */
  readonly waiting: number
  readonly maxWaiting: number
  readonly waitTimeoutMs: number
  /** The last finished sessions (at most 16, oldest first): traffic, late and dropped frames, frame timing. */
  readonly recentSessions: ReadonlyArray<SessionStats>
  /** With the conversations batched on one LM step (`--max-sessions` above 1): rows, tick time, headroom. */
  readonly batch?: BatchStatus
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" })
  res.end(text)
}

const addressOf = (req: http.IncomingMessage): string => {
  const { remoteAddress, remotePort } = req.socket
  if (remoteAddress === undefined) return "unknown"
  return `${remoteAddress.includes(":") ? `[${remoteAddress}]` : remoteAddress}:${remotePort ?? 0}`
}

/**
 * The HTTP(S) + WebSocket server: `GET /api/chat` (WebSocket, upstream protocol), `GET /api/voices`,
 * `GET /api/health`, and the page. Lives until its scope closes; closing it ends every session.
 */
export const serve = (options: WebServerOptions = {}) =>
  Effect.gen(function* () {
    const engine = yield* ConversationEngine
    const maxSessions = options.maxSessions ?? 1
    const maxPromptLength = options.maxPromptLength ?? 4000
    const catalog = options.voices ?? new VoiceCatalog(options.voicesDir)
    const room = makeWaitingRoom({
      maxSessions,
      maxWaiting: options.maxWaiting ?? 16,
      waitTimeoutMs: options.waitTimeoutMs ?? 300_000,
    })
    const counters: SessionCounters = { sessions: 0, opusWriters: 0, recent: [] }
    const staticDir = options.staticDir === undefined ? undefined : path.resolve(options.staticDir)
    const run = yield* FiberSet.makeRuntime<ConversationEngine>()
    let nextSession = 1
    const refused = (reason: "busy" | "voice" | "request" | "internal") =>
      Metric.update(Metric.withAttributes(WebMetrics.refusals, { reason }), 1)
    const refuseLogged = (
      ws: WebSocket,
      reason: "busy" | "voice" | "request" | "internal",
      message: string,
      code: number,
    ) =>
      logEvent(reason === "internal" ? "Error" : "Warn", "refused", `refused (close ${code}): ${message}`, {
        code,
        reason,
      }).pipe(Effect.andThen(refused(reason)), Effect.andThen(refuse(ws, message, code)))

    const handleChat = (ws: WebSocket, url: URL, address: string) => {
      const sessionId = `s${nextSession++}`
      const connectedAt = performance.now()
      const query = url.searchParams
      const events = query.get("events") === "json"
      return Effect.gen(function* () {
        const voiceName = query.get("voice_prompt") ?? options.defaultVoice ?? ""
        const textPrompt = query.get("text_prompt") ?? options.defaultTextPrompt ?? DEFAULT_TEXT_PROMPT
        yield* logEvent(
          "Info",
          "connect",
          `connect from ${address}: voice ${voiceName === "" ? "(none)" : voiceName}, text prompt of ${textPrompt.length} characters`,
          { address, voice: voiceName, promptChars: textPrompt.length },
        )
        if (textPrompt.length > maxPromptLength) {
          return yield* new BadRequest({
            reason: `text_prompt has ${textPrompt.length} characters; the limit is ${maxPromptLength}`,
          })
        }
        const voice = yield* catalog.resolve(voiceName)

        // The line: a client that leaves while it waits gives up its place.
        const left = yield* Deferred.make<void>()
        const onLeave = () => Deferred.doneUnsafe(left, Effect.void)
        ws.once("close", onLeave)
        const onPosition = (position: number) => {
          if (events)
            send(
              ws,
              encodeMetadata({
                type: "queue",
                sessionId,
                position,
                maxSessions,
                waitTimeoutMs: room.options.waitTimeoutMs,
              } satisfies QueueEvent),
            )
          run(
            logEvent("Info", "queued", `waiting for a conversation slot: place ${position} in line`, {
              position,
            }).pipe(Effect.annotateLogs({ session: sessionId })),
          )
        }
        const entered = yield* Effect.raceFirst(
          Effect.as(room.enter(onPosition), true),
          Effect.as(Deferred.await(left), false),
        ).pipe(Effect.ensuring(Effect.sync(() => ws.off("close", onLeave))))
        if (!entered) {
          const waitedMs = Math.round(performance.now() - connectedAt)
          return yield* logEvent("Info", "left-waiting", `left after waiting ${waitedMs} ms for a slot`, {
            waitedMs,
          })
        }
        yield* runSession(ws, { sessionId, voice, textPrompt, events, maxSessions, connectedAt }, counters)
      }).pipe(
        Effect.scoped,
        Effect.catch((error) =>
          error._tag === "WaitingRoomFull" || error._tag === "WaitTimedOut"
            ? refuseLogged(ws, "busy", error.message, CloseCode.TryAgainLater)
            : refuseLogged(
                ws,
                error._tag === "BadRequest" ? "request" : "voice",
                error.message,
                CloseCode.PolicyViolation,
              ),
        ),
        Effect.catchDefect((defect) =>
          refuseLogged(ws, "internal", `internal error: ${String(defect)}`, CloseCode.InternalError),
        ),
        Effect.annotateLogs({ session: sessionId }),
      )
    }

    const health = Effect.gen(function* () {
      const status = yield* room.status
      const batch = engine.batch === undefined ? undefined : yield* engine.batch
      return {
        status: "ok",
        engine: engine.name,
        device: engine.device ?? "unknown",
        sessions: status.active,
        maxSessions,
        waiting: status.waiting,
        maxWaiting: room.options.maxWaiting,
        waitTimeoutMs: room.options.waitTimeoutMs,
        recentSessions: [...counters.recent],
        ...(batch === undefined ? {} : { batch }),
      } satisfies Health
    })

    const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 })
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      if (req.method !== "GET" && req.method !== "HEAD")
        return json(res, 405, { error: "method not allowed" })
      if (url.pathname === "/api/voices") {
        run(
          catalog.list.pipe(
            Effect.match({
              onSuccess: (voices) =>
                json(res, 200, { voices: voices.map((v) => v.name), default: options.defaultVoice ?? "" }),
              onFailure: (error) => json(res, 500, { error: error.message }),
            }),
          ),
        )
        return
      }
      if (url.pathname === "/api/health") {
        run(Effect.map(health, (body) => json(res, 200, body)))
        return
      }
      if (staticDir !== undefined && serveStatic(staticDir, url.pathname, res)) return
      json(res, 404, { error: `not found: ${url.pathname}` })
    }
    const server =
      options.tls === undefined
        ? http.createServer(onRequest)
        : https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      if (url.pathname !== "/api/chat") {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n")
        return
      }
      const address = addressOf(req)
      wss.handleUpgrade(req, socket, head, (ws) => {
        run(handleChat(ws, url, address))
      })
    })

    const port = yield* Effect.acquireRelease(
      Effect.callback<number, ListenError>((resume) => {
        const requested = options.port ?? 8998
        const onError = (cause: unknown) => resume(Effect.fail(new ListenError({ port: requested, cause })))
        server.once("error", onError)
        server.listen(requested, options.host ?? "127.0.0.1", () => {
          server.off("error", onError)
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : requested))
        })
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const client of wss.clients) client.terminate()
          wss.close()
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        }),
    )

    const host = options.host ?? "127.0.0.1"
    return {
      port,
      url: `${options.tls === undefined ? "http" : "https"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
      counts: Effect.map(engine.liveSessions, (engineSessions) => ({
        sessions: counters.sessions,
        engineSessions,
        opusWriters: counters.opusWriters,
      })),
    } satisfies WebServer
  })
