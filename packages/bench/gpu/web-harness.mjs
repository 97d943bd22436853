// What a scripted test of the web server needs, from the web app itself (a deploy of apps/web, or
// apps/web built): start `personaplex-web` (the product) on a free port and stop it, read /api/health,
// write WAV voices, and scripted WebSocket clients of the protocol. Used by web-load.mjs.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const here = path.dirname(new URL(import.meta.url).pathname)

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
 * `startTimeoutMs`). Its output goes to `logFile` when given; the last 200 lines are kept.
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
  const started = performance.now()
  for (;;) {
    if (exit !== undefined)
      throw new Error(`the server exited (${JSON.stringify(exit)}) before /api/health answered`)
    try {
      await health()
      break
    } catch {
      if (performance.now() - started > startTimeoutMs) {
        await stop()
        throw new Error(`no /api/health answer within ${startTimeoutMs / 1000} s`)
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
 * A client of the protocol with the event channel on: its session id (the `hello` event), the agent's
 * frames (count, and a fingerprint each), text, errors. `sendFrame` sends one frame as the Ogg pages it
 * fills (a microphone); `sendAtOnce` sends frames as ONE message (a client ahead of real time).
 */
export const connectClient = (app, port, query) => {
  const ws = new app.WebSocket(
    `ws://127.0.0.1:${port}/api/chat?${new URLSearchParams({ ...query, events: "json" })}`,
  )
  const reader = new app.OggOpusReader()
  const client = {
    ws,
    sessionId: undefined,
    frames: [],
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
  client.close = async () => {
    await writer?.close().catch(() => undefined)
    if (ws.readyState === app.WebSocket.OPEN) ws.close(1000, "done")
    await Promise.race([client.closed, sleep(10_000)])
  }
  return client
}
