// One scripted conversation with the web server, as upstream's client holds it: starts
// `personaplex-web` (the product) with the server arguments given after `--` (e.g. `--config run.yaml`),
// waits for /api/health, connects with upstream's query string, streams a WAV as Ogg/Opus pages at real
// time (one 80 ms frame every 80 ms) for --seconds, collects the agent's audio and text, closes, reads
// the session's figures from /api/health (late and dropped frames, frame timing, where the models ran),
// stops the server and prints one JSON line. Exit status 1 when the conversation fails: no handshake,
// an error message, no agent audio or text, user frames lost, or more late/dropped frames than --max-late.
//
//   node web-session.mjs [--web DIR] [--input in.wav] [--seconds 45] [--max-late 0] -- [server args]
//
// --server-log FILE: everything the server printed (its JSON log lines with --log-format json).
// --web: the web app (a deploy of apps/web, or apps/web in the repository): its dist/ and node_modules
// give the server, the Ogg/Opus codec, ws and audio-io; nothing else is needed. Without --input, the
// shipped hello.wav, repeated. A voice (--voices DIR, voice_prompt=voice.wav) is made from the input's
// first --voice-seconds unless the server arguments name --voices.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const here = path.dirname(new URL(import.meta.url).pathname)
const dashes = process.argv.indexOf("--")
const own = dashes < 0 ? process.argv.slice(2) : process.argv.slice(2, dashes)
const serverArgs = dashes < 0 ? [] : process.argv.slice(dashes + 1)
const { values: flags } = parseArgs({
  args: own,
  options: {
    web: { type: "string" },
    input: { type: "string" },
    seconds: { type: "string", default: "45" },
    "voice-seconds": { type: "string", default: "3" },
    "max-late": { type: "string", default: "0" },
    "server-log": { type: "string" },
    "handshake-timeout": { type: "string", default: "1800" },
    "text-prompt": { type: "string" },
  },
})

const web = path.resolve(
  flags.web ??
    [path.join(here, "web"), path.join(here, "../../../apps/web")].find((d) => fs.existsSync(d)) ??
    "web",
)
if (!fs.existsSync(path.join(web, "dist", "start.js"))) {
  console.error(
    `web-session: no built web app at ${web} (give --web DIR: a deploy of apps/web, or apps/web built)`,
  )
  process.exit(2)
}
const requireFromWeb = createRequire(path.join(web, "package.json"))
const importFromWeb = (name) => import(pathToFileURL(requireFromWeb.resolve(name)).href)
const { default: WebSocket } = await importFromWeb("ws")
const { Effect } = await importFromWeb("effect")
const { assets, loadMono24k, writeWav } = await importFromWeb("@personaplex/audio-io")
const { decodeMessage, encodeAudio, FRAME_SIZE, OggOpusReader, OggOpusWriter, upstreamClientQuery } =
  await import(pathToFileURL(path.join(web, "dist", "index.js")).href)

const seconds = Number(flags.seconds)
const frameCount = Math.round(seconds * 12.5)
const input = await Effect.runPromise(loadMono24k(flags.input ?? assets.helloWav))
/** Frame k of the input, repeated as often as --seconds needs. */
const frameAt = (k) => {
  const frame = new Float32Array(FRAME_SIZE)
  for (let i = 0; i < FRAME_SIZE; i++) frame[i] = input[(k * FRAME_SIZE + i) % input.length]
  return frame
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "web-session-"))
const extra = [...serverArgs]
let voiceName = ""
if (!serverArgs.includes("--voices")) {
  const voices = path.join(work, "voices")
  fs.mkdirSync(voices)
  const voice = input.subarray(0, Math.round(Number(flags["voice-seconds"]) * 24000))
  await Effect.runPromise(writeWav(path.join(voices, "voice.wav"), { sampleRate: 24000, channels: [voice] }))
  extra.push("--voices", voices)
  voiceName = "voice.wav"
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
const port = await freePort()
const base = `http://127.0.0.1:${port}`

const serverLog = []
const server = spawn(
  process.execPath,
  [path.join(web, "dist", "start.js"), "--port", String(port), ...extra],
  {
    stdio: ["ignore", "pipe", "pipe"],
  },
)
let serverExit
const exited = new Promise((resolve) =>
  server.on("exit", (code, signal) => {
    serverExit = { code, signal }
    resolve()
  }),
)
// Whatever ends this script ends the server too.
process.on("exit", () => {
  if (serverExit === undefined) server.kill("SIGKILL")
})
for (const stream of [server.stdout, server.stderr])
  stream.setEncoding("utf8").on("data", (chunk) => {
    if (flags["server-log"] !== undefined) fs.appendFileSync(flags["server-log"], chunk)
    for (const line of chunk.split("\n")) if (line.trim() !== "") serverLog.push(line)
    if (serverLog.length > 200) serverLog.splice(0, serverLog.length - 200)
  })

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const fail = async (reason, figures = {}) => {
  console.log(JSON.stringify({ ok: false, reason, ...figures, serverLog: serverLog.slice(-20) }))
  if (serverExit === undefined) server.kill("SIGINT")
  await Promise.race([exited, sleep(10_000)])
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}
const health = async () => (await fetch(`${base}/api/health`)).json()

const started = performance.now()
for (;;) {
  if (serverExit !== undefined)
    await fail(`the server exited (${JSON.stringify(serverExit)}) before /api/health answered`)
  try {
    await health()
    break
  } catch {
    if (performance.now() - started > 600_000) await fail("no /api/health answer within 600 s")
    await sleep(250)
  }
}
const serverStartMs = Math.round(performance.now() - started)

const query = new URLSearchParams(
  upstreamClientQuery({
    voice_prompt: voiceName,
    ...(flags["text-prompt"] === undefined ? {} : { text_prompt: flags["text-prompt"] }),
  }),
)
const ws = new WebSocket(`ws://127.0.0.1:${port}/api/chat?${query}`)
const reader = new OggOpusReader()
const received = { frames: 0, text: [], errors: [], firstAudioMs: undefined }
const connectedAt = performance.now()
let handshakeMs
let sendingFrom
const handshake = new Promise((resolve) => {
  ws.on("message", (data) => {
    const message = decodeMessage(new Uint8Array(data))
    switch (message.kind) {
      case "handshake":
        handshakeMs = Math.round(performance.now() - connectedAt)
        resolve()
        break
      case "audio":
        received.frames += reader.push(message.payload).frames.length
        if (received.firstAudioMs === undefined && sendingFrom !== undefined)
          received.firstAudioMs = Math.round(performance.now() - sendingFrom)
        break
      case "text":
        received.text.push(message.text)
        break
      case "error":
        received.errors.push(message.text)
        break
    }
  })
})
const closed = new Promise((resolve) =>
  ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
)
ws.on("error", (error) => received.errors.push(`socket: ${error.message}`))
const timeout = sleep(Number(flags["handshake-timeout"]) * 1000).then(() => "timeout")
const first = await Promise.race([handshake.then(() => "handshake"), closed.then(() => "closed"), timeout])
if (first !== "handshake")
  await fail(first === "timeout" ? "no handshake in time" : "the server closed before the handshake", {
    errors: received.errors,
  })

// Real time: frame k leaves at sendingFrom + 80 k ms (the writer sends each Ogg page as it fills).
const writer = await OggOpusWriter.open((page) => {
  if (ws.readyState === WebSocket.OPEN) ws.send(encodeAudio(page))
})
sendingFrom = performance.now()
let sendLateMax = 0
for (let k = 0; k < frameCount && ws.readyState === WebSocket.OPEN; k++) {
  const due = sendingFrom + 80 * k
  const wait = due - performance.now()
  if (wait > 0) await sleep(wait)
  else sendLateMax = Math.max(sendLateMax, -wait)
  await writer.write(frameAt(k))
}
await writer.close().catch(() => undefined)
await sleep(1500) // the agent's answer to the last frames
const sessionsBefore = (await health()).recentSessions.length
ws.close(1000, "done")
await Promise.race([closed, sleep(10_000)])
let stats
for (let i = 0; i < 100 && stats === undefined; i++) {
  const recent = (await health()).recentSessions
  if (recent.length > sessionsBefore) stats = recent.at(-1)
  else await sleep(100)
}
server.kill("SIGINT")
await Promise.race([exited, sleep(15_000)])
if (serverExit === undefined) server.kill("SIGKILL")
fs.rmSync(work, { recursive: true, force: true })

const text = received.text.join("")
const figures = {
  serverStartMs,
  handshakeMs,
  seconds,
  framesSent: frameCount,
  clientSendLateMaxMs: Math.round(sendLateMax),
  agentFramesReceived: received.frames,
  firstAgentAudioMs: received.firstAudioMs,
  textChars: text.length,
  text: text.slice(0, 160),
  errors: received.errors,
  session: stats,
}
const maxLate = Number(flags["max-late"])
const problem =
  stats === undefined
    ? "the session's figures never appeared in /api/health"
    : received.errors.length > 0
      ? "the server sent an error"
      : received.frames === 0
        ? "no agent audio"
        : text.length === 0
          ? "no agent text"
          : stats.framesIn < frameCount - 2
            ? `the server got ${stats.framesIn} of ${frameCount} user frames`
            : stats.lateFrames + stats.droppedFrames > maxLate
              ? `${stats.lateFrames} late and ${stats.droppedFrames} dropped frames (at most ${maxLate} allowed)`
              : undefined
console.log(
  JSON.stringify({ ok: problem === undefined, ...(problem ? { reason: problem } : {}), ...figures }),
)
process.exit(problem === undefined ? 0 : 1)
