import * as http from "node:http"
import * as path from "node:path"
import { Effect, FiberSet, Metric, Semaphore } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import { CloseCode } from "../shared/protocol.ts"
import { ConversationEngine } from "./engine.ts"
import { BadRequest, ListenError } from "./errors.ts"
import { WebMetrics } from "./metrics.ts"
import { refuse, runSession, type SessionCounters } from "./session.ts"
import { serveStatic } from "./static-files.ts"
import { VoiceCatalog } from "./voices.ts"

/** Upstream's client default prompt (upstream-spec §5.4). */
export const DEFAULT_TEXT_PROMPT =
  "You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way."

export interface WebServerOptions {
  /** 0 picks a free port (default 8998, as upstream). */
  readonly port?: number
  /** Default 127.0.0.1: only this machine can connect. */
  readonly host?: string
  /** The folder whose files are the allowed voices (`.pt` or `.wav`). */
  readonly voicesDir?: string
  /** Used when the query has no voice_prompt; "" means no voice prompt. */
  readonly defaultVoice?: string
  readonly defaultTextPrompt?: string
  /** Concurrent conversations; more are answered "busy" (default 1, as upstream's global lock). */
  readonly maxSessions?: number
  /** The built page (default: `public/` next to the server's module); none: no page is served. */
  readonly staticDir?: string | undefined
  /** The longest text prompt accepted, in characters (upstream's page caps at 1000). */
  readonly maxPromptLength?: number
}

export interface WebServer {
  readonly port: number
  readonly url: string
  /** Sessions with an open socket, engine sessions alive, Opus writers open (leak checks). */
  readonly counts: Effect.Effect<{ sessions: number; engineSessions: number; opusWriters: number }>
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" })
  res.end(text)
}

/**
 * The HTTP + WebSocket server: `GET /api/chat` (WebSocket, upstream protocol), `GET /api/voices`,
 * `GET /api/health`, and the page. Lives until its scope closes; closing it ends every session.
 */
export const serve = (options: WebServerOptions = {}) =>
  Effect.gen(function* () {
    const engine = yield* ConversationEngine
    const maxSessions = options.maxSessions ?? 1
    const maxPromptLength = options.maxPromptLength ?? 4000
    const catalog = new VoiceCatalog(options.voicesDir)
    const slots = yield* Semaphore.make(maxSessions)
    const counters: SessionCounters = { sessions: 0, opusWriters: 0 }
    const staticDir = options.staticDir === undefined ? undefined : path.resolve(options.staticDir)
    const run = yield* FiberSet.makeRuntime<ConversationEngine>()
    let nextSession = 1
    const refused = (reason: "busy" | "voice" | "request" | "internal") =>
      Metric.update(Metric.withAttributes(WebMetrics.refusals, { reason }), 1)

    const handleChat = (ws: WebSocket, url: URL) =>
      Effect.gen(function* () {
        const query = url.searchParams
        const voiceName = query.get("voice_prompt") ?? options.defaultVoice ?? ""
        const textPrompt = query.get("text_prompt") ?? options.defaultTextPrompt ?? DEFAULT_TEXT_PROMPT
        if (textPrompt.length > maxPromptLength) {
          return yield* new BadRequest({
            reason: `text_prompt has ${textPrompt.length} characters; the limit is ${maxPromptLength}`,
          })
        }
        const voice = yield* catalog.resolve(voiceName)
        const acquired = yield* Semaphore.takeIfAvailable(slots, 1)
        if (!acquired) {
          yield* refused("busy")
          return yield* refuse(
            ws,
            `busy: all ${maxSessions} conversation slot(s) are in use, try again later`,
            CloseCode.TryAgainLater,
          )
        }
        const sessionId = `s${nextSession++}`
        yield* runSession(
          ws,
          { sessionId, voice, textPrompt, events: query.get("events") === "json", maxSessions },
          counters,
        ).pipe(Effect.ensuring(Semaphore.release(slots, 1)))
      }).pipe(
        Effect.catch((error) =>
          Effect.andThen(
            refused(error._tag === "BadRequest" ? "request" : "voice"),
            refuse(ws, error.message, CloseCode.PolicyViolation),
          ),
        ),
        Effect.catchDefect((defect) =>
          Effect.andThen(
            refused("internal"),
            refuse(ws, `internal error: ${String(defect)}`, CloseCode.InternalError),
          ),
        ),
      )

    const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 })
    const server = http.createServer((req, res) => {
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
        return json(res, 200, { engine: engine.name, sessions: counters.sessions, maxSessions })
      }
      if (staticDir !== undefined && serveStatic(staticDir, url.pathname, res)) return
      json(res, 404, { error: `not found: ${url.pathname}` })
    })
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      if (url.pathname !== "/api/chat") {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n")
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        run(handleChat(ws, url))
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
      url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
      counts: Effect.map(engine.liveSessions, (engineSessions) => ({
        sessions: counters.sessions,
        engineSessions,
        opusWriters: counters.opusWriters,
      })),
    } satisfies WebServer
  })
