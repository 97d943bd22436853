// What a scripted test of the web server needs, from the web app itself (a deploy of apps/web, or
// apps/web built): start `personaplex-web` (the product) on a free port and stop it, read /api/health,
// write WAV voices, and scripted WebSocket clients of the protocol. Used by web-load.mjs and web-session.mjs.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const here = path.dirname(new URL(import.meta.url).pathname)

/**
 * The script's flags (before `--`: `options`, beside those every web script takes: --web, --input,
 * --voice-seconds, --max-late, --handshake-timeout, --server-log) and the server's arguments (after `--`).
 */
export const scriptArgs = (options) => {
  const dashes = process.argv.indexOf("--")
  const { values: flags } = parseArgs({
    args: dashes < 0 ? process.argv.slice(2) : process.argv.slice(2, dashes),
    options: {
      web: { type: "string" },
      input: { type: "string" },
      "voice-seconds": { type: "string", default: "3" },
      "max-late": { type: "string", default: "0" },
      "handshake-timeout": { type: "string", default: "1800" },
      "server-log": { type: "string" },
      ...options,
    },
  })
  return { flags, serverArgs: dashes < 0 ? [] : process.argv.slice(dashes + 1) }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The web app at `dir` (default: ./web beside this script, or apps/web of the repository) and its modules. */
export const openWebApp = async (dir) => {
  const web = path.resolve(
    dir ??
      [path.join(here, "web"), path.join(here, "../../../apps/web")].find((d) => fs.existsSync(d)) ??
      "web",
  )
  if (!fs.existsSync(path.join(web, "dist", "start.js")))
    throw new Error(`no built web app at ${web} (give --web DIR: a deploy of apps/web, or apps/web built)`)
  const requireFromWeb = createRequire(path.join(web, "package.json"))
  const importFromWeb = (name) => import(pathToFileURL(requireFromWeb.resolve(name)).href)
  return {
    web,
    WebSocket: (await importFromWeb("ws")).default,
    Effect: (await importFromWeb("effect")).Effect,
    ...(await importFromWeb("@personaplex/audio-io")),
    ...(await import(pathToFileURL(path.join(web, "dist", "index.js")).href)),
  }
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })

/**
 * `personaplex-web` with `args` on a free port, waited for until /api/health answers (at most
 * `startTimeoutMs`). Its output goes to `logFile` when given; the last 200 lines are kept (`log`, also on
 * the error thrown when it does not start).
 */
export const startWebServer = async (app, args, { logFile, startTimeoutMs = 600_000 } = {}) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const log = []
  const child = spawn(
    process.execPath,
    [path.join(app.web, "dist", "start.js"), "--port", String(port), ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  )
  let exit
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exit = { code, signal }
      resolve()
    }),
  )
  // Whatever ends the script ends the server too.
  process.on("exit", () => {
    if (exit === undefined) child.kill("SIGKILL")
  })
  for (const stream of [child.stdout, child.stderr])
    stream.setEncoding("utf8").on("data", (chunk) => {
      if (logFile !== undefined) fs.appendFileSync(logFile, chunk)
      for (const line of chunk.split("\n")) if (line.trim() !== "") log.push(line)
      if (log.length > 200) log.splice(0, log.length - 200)
    })
  const health = async () => (await fetch(`${base}/api/health`)).json()
  const stop = async () => {
    if (exit === undefined) child.kill("SIGINT")
    await Promise.race([exited, sleep(15_000)])
    if (exit === undefined) child.kill("SIGKILL")
  }
  const notStarted = (reason) => Object.assign(new Error(reason), { log })
  const started = performance.now()
  for (;;) {
    if (exit !== undefined)
      throw notStarted(`the server exited (${JSON.stringify(exit)}) before /api/health answered`)
    try {
      await health()
      break
    } catch {
      if (performance.now() - started > startTimeoutMs) {
        await stop()
        throw notStarted(`no /api/health answer within ${startTimeoutMs / 1000} s`)
      }
      await sleep(250)
    }
  }
  return { port, base, health, stop, log, startMs: Math.round(performance.now() - started) }
}

/** A 24 kHz mono WAV of `samples` (Float32Array) at `file`. */
export const writeVoice = (app, file, samples) =>
  app.Effect.runPromise(app.writeWav(file, { sampleRate: 24000, channels: [samples] }))

/** An agent frame's fingerprint: what two runs compare (the same tokens decode to the same samples). */
const fingerprint = (frame) => {
  let sum = 0
  for (const x of frame) sum += Math.abs(x)
  return Math.round(sum * 1000)
}

/**
 * A client of the protocol, with the event channel on unless `eventChannel` is false (upstream's client):
 * its session id (the `hello` event), the agent's frames (count, and a fingerprint each), when each audio
 * message came, text, errors. `sendFrame` sends one frame as the Ogg pages it fills (a microphone) and
 * `endAudio` sends the stream's last page; `sendAtOnce` sends frames as ONE message (a client ahead of
 * real time).
 */
export const connectClient = (app, port, query, { eventChannel = true } = {}) => {
  const ws = new app.WebSocket(
    `ws://127.0.0.1:${port}/api/chat?${new URLSearchParams(eventChannel ? { ...query, events: "json" } : query)}`,
  )
  const reader = new app.OggOpusReader()
  const client = {
    ws,
    sessionId: undefined,
    frames: [],
    audioMessagesAt: [],
    text: [],
    errors: [],
    connectedAt: performance.now(),
    handshakeMs: undefined,
    firstAudioAt: undefined,
  }
  client.handshake = new Promise((resolve) => {
    ws.on("message", (data) => {
      const message = app.decodeMessage(new Uint8Array(data))
      switch (message.kind) {
        case "handshake":
          client.handshakeMs = Math.round(performance.now() - client.connectedAt)
          resolve()
          break
        case "audio":
          client.audioMessagesAt.push(performance.now())
          for (const frame of reader.push(message.payload).frames) client.frames.push(fingerprint(frame))
          if (client.firstAudioAt === undefined && client.frames.length > 0)
            client.firstAudioAt = performance.now()
          break
        case "text":
          client.text.push(message.text)
          break
        case "metadata": {
          const event = JSON.parse(message.text)
          if (event.type === "hello") client.sessionId = event.sessionId
          break
        }
        case "error":
          client.errors.push(message.text)
          break
      }
    })
  })
  client.closed = new Promise((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  )
  ws.on("error", (error) => client.errors.push(`socket: ${error.message}`))
  let writer
  client.sendFrame = async (frame) => {
    writer ??= await app.OggOpusWriter.open((page) => {
      if (ws.readyState === app.WebSocket.OPEN) ws.send(app.encodeAudio(page))
    })
    await writer.write(frame)
  }
  client.sendAtOnce = async (frames) => {
    const pages = []
    const own = await app.OggOpusWriter.open((page) => pages.push(page))
    for (const frame of frames) await own.write(frame)
    await own.close()
    ws.send(app.encodeAudio(Buffer.concat(pages)))
  }
  /** Waits for the handshake (at most `timeoutSeconds`): undefined once it came, else what went wrong. */
  client.handshakeProblem = async (timeoutSeconds) => {
    const timeout = sleep(timeoutSeconds * 1000).then(() => "timeout")
    const first = await Promise.race([
      client.handshake.then(() => "handshake"),
      client.closed.then(() => "closed"),
      timeout,
    ])
    if (first === "handshake") return undefined
    return first === "timeout" ? "no handshake in time" : "the server closed before the handshake"
  }
  client.endAudio = () => writer?.close().catch(() => undefined)
  client.close = async () => {
    await client.endAudio()
    if (ws.readyState === app.WebSocket.OPEN) ws.close(1000, "done")
    await Promise.race([client.closed, sleep(10_000)])
  }
  return client
}
