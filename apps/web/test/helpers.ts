import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ensureSmokeModels } from "@personaplex/stack"
import { Effect, Exit, Layer, Logger, Scope } from "effect"
import WebSocket from "ws"
import type { ConversationEngine } from "../src/server/engine.ts"
import { parseServerArgs, type Started, startServer as startFromArgs } from "../src/server/main.ts"
import { OggOpusReader, OggOpusWriter } from "../src/server/opus-ogg.ts"
import { type Health, serve, type WebServer, type WebServerOptions } from "../src/server/server.ts"
import type { ServerEvent } from "../src/shared/events.ts"
import { decodeMessage, encodeAudio } from "../src/shared/protocol.ts"

export interface RunningServer extends WebServer {
  readonly close: () => Promise<void>
  readonly countsNow: () => Promise<{ sessions: number; engineSessions: number; opusWriters: number }>
}

/** One captured log line: level, message, annotations (session, event and the event's facts). */
export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every line (and nothing printed). */
export const captureLogs = () => {
  const lines: LogLine[] = []
  const logger = Logger.map(Logger.formatStructured, (entry) => {
    lines.push({
      level: entry.level,
      message: Array.isArray(entry.message) ? entry.message.join(" ") : String(entry.message),
      annotations: entry.annotations,
    })
  })
  return { lines, layer: Logger.layer([logger]) }
}

export const startServer = async (
  engine: Layer.Layer<ConversationEngine, unknown>,
  options: WebServerOptions = {},
  logs: Layer.Layer<never> = Logger.layer([]),
): Promise<RunningServer> => {
  const scope = Effect.runSync(Scope.make())
  // The engine layer is built in the server's scope: `Effect.provide` would release it (and its ONNX
  // sessions) as soon as `serve` returns, while the server goes on.
  const server = await Effect.runPromise(
    Layer.build(engine).pipe(
      Effect.flatMap((context) => serve({ port: 0, ...options }).pipe(Effect.provideContext(context))),
      Scope.provide(scope),
      Effect.provide(logs),
    ),
  )
  return {
    ...server,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    countsNow: () => Effect.runPromise(server.counts),
  }
}

/** The model files a run configuration names (paths relative to the file's folder, or absolute). */
export interface ConfigModels {
  readonly mimi: string
  readonly lm: string
  readonly tokenizer: string
  readonly mimiConfig: string
  readonly lmConfig: string
}

/** A `personaplex run` configuration at `file`: the `model:` section naming `models`, then `lines`. */
export const writeRunConfig = (file: string, models: ConfigModels, lines: ReadonlyArray<string>) =>
  fs.writeFileSync(
    file,
    [
      "model:",
      `  mimi: ${models.mimi}`,
      `  lm: ${models.lm}`,
      `  tokenizer: ${models.tokenizer}`,
      `  mimi_config: ${models.mimiConfig}`,
      `  lm_config: ${models.lmConfig}`,
      ...lines,
    ].join("\n"),
  )

/**
 * A run configuration in a new folder (`prefix` names it): the smoke models written to its models/ and
 * named by paths relative to the file, then `lines`.
 */
export const smokeRunConfig = async (prefix: string, lines: ReadonlyArray<string>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const smoke = await Effect.runPromise(ensureSmokeModels(path.join(dir, "models")))
  const file = path.join(dir, "config.yaml")
  writeRunConfig(
    file,
    { ...smoke, mimi: "models/mimi-smoke.safetensors", lm: "models/lm-smoke.safetensors" },
    lines,
  )
  return { dir, file }
}

/** A voices folder with two voices, and a file beside it that must stay unreachable. */
export const makeVoicesDir = (): { dir: string; secret: string } => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pp-voices-"))
  const dir = path.join(root, "voices")
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "NATF0.pt"), "not a real voice")
  fs.writeFileSync(path.join(dir, "VARM1.wav"), "not a real voice")
  fs.writeFileSync(path.join(dir, "notes.txt"), "not a voice")
  const secret = path.join(root, "secret.pt")
  fs.writeFileSync(secret, "secret")
  return { dir, secret }
}

export const tone = (frames: number, frequency = 440, gain = 0.3): Float32Array[] =>
  Array.from({ length: frames }, (_, f) =>
    Float32Array.from(
      { length: 1920 },
      (_, i) => gain * Math.sin((2 * Math.PI * frequency * (f * 1920 + i)) / 24000),
    ),
  )

/** A test client speaking the upstream protocol: records everything the server sends. */
export class Client {
  readonly text: string[] = []
  readonly events: ServerEvent[] = []
  readonly errors: string[] = []
  readonly received: Float32Array[] = []
  audioMessages = 0
  handshakeAt: number | undefined
  closeCode: number | undefined
  closeReason = ""
  readonly opened: Promise<void>
  readonly closed: Promise<void>
  readonly handshake: Promise<void>
  private readonly reader = new OggOpusReader()
  private writer: OggOpusWriter | undefined
  readonly startedAt = performance.now()

  constructor(readonly ws: WebSocket) {
    let handshakeDone: () => void = () => {}
    this.handshake = new Promise((resolve) => {
      handshakeDone = resolve
    })
    this.opened = new Promise((resolve, reject) => {
      ws.once("open", () => resolve())
      ws.once("error", reject)
    })
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        this.closeCode = code
        this.closeReason = reason.toString()
        resolve()
      })
    })
    ws.on("message", (data: Buffer) => {
      const message = decodeMessage(new Uint8Array(data))
      switch (message.kind) {
        case "handshake":
          this.handshakeAt = performance.now()
          handshakeDone()
          break
        case "audio":
          this.audioMessages++
          this.received.push(...this.reader.push(message.payload).frames)
          break
        case "text":
          this.text.push(message.text)
          break
        case "metadata":
          this.events.push(JSON.parse(message.text) as ServerEvent)
          break
        case "error":
          this.errors.push(message.text)
          break
      }
    })
  }

  static connect(
    server: { port: number },
    query: Record<string, string> = {},
    tls?: { readonly ca: string },
  ): Client {
    const params = new URLSearchParams(query)
    return tls === undefined
      ? new Client(new WebSocket(`ws://127.0.0.1:${server.port}/api/chat?${params}`))
      : new Client(new WebSocket(`wss://127.0.0.1:${server.port}/api/chat?${params}`, { ca: tls.ca }))
  }

  sendRaw(bytes: Uint8Array | string) {
    this.ws.send(bytes)
  }

  /** Encodes frames as Ogg/Opus pages (as a browser would) and sends each page as a 0x01 message. */
  async sendFrames(frames: ReadonlyArray<Float32Array>) {
    if (this.writer === undefined) {
      this.writer = await OggOpusWriter.open((page) => {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeAudio(page))
      })
    }
    for (const frame of frames) await this.writer.write(frame)
  }

  /**
   * Encodes frames as an Ogg/Opus stream of its own and sends all its pages in ONE 0x01 message: a
   * client ahead of real time, whose frames are all waiting when the server's ticks take them.
   */
  async sendFramesAtOnce(frames: ReadonlyArray<Float32Array>) {
    const pages: Uint8Array[] = []
    const writer = await OggOpusWriter.open((page) => pages.push(page))
    for (const frame of frames) await writer.write(frame)
    await writer.close()
    this.ws.send(encodeAudio(Buffer.concat(pages)))
  }

  rms(): number {
    let sum = 0
    let n = 0
    for (const f of this.received) {
      for (const x of f) sum += x * x
      n += f.length
    }
    return n === 0 ? 0 : Math.sqrt(sum / n)
  }

  async close() {
    await this.writer?.close()
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close()
    await this.closed
  }
}

export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The server as `personaplex-web` starts it from these flags (port 0 unless given), in its own scope. */
export const startFromFlags = async (
  flags: ReadonlyArray<string>,
  logs: Layer.Layer<never> = Logger.layer([]),
): Promise<RunningServer & { readonly started: Started }> => {
  const scope = Effect.runSync(Scope.make())
  const withPort = flags.includes("--port") ? flags : ["--port", "0", ...flags]
  const started = await Effect.runPromise(
    parseServerArgs(withPort).pipe(
      Effect.flatMap((args) => (args === "help" ? Effect.die("help") : startFromArgs(args))),
      Scope.provide(scope),
      Effect.provide(logs),
    ),
  )
  return {
    ...started.server,
    started,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    countsNow: () => Effect.runPromise(started.server.counts),
  }
}

/** `GET /api/health` */
export const health = async (server: { url: string }): Promise<Health> =>
  (await (await fetch(`${server.url}/api/health`)).json()) as Health
