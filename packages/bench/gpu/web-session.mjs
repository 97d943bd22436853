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
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { connectClient, openWebApp, scriptArgs, sleep, startWebServer, writeVoice } from "./web-harness.mjs"

const { flags, serverArgs } = scriptArgs({
  seconds: { type: "string", default: "45" },
  "text-prompt": { type: "string" },
})

const app = await openWebApp(flags.web).catch((error) => {
  console.error(`web-session: ${error.message}`)
  process.exit(2)
})
const FRAME = app.FRAME_SIZE

const seconds = Number(flags.seconds)
const frameCount = Math.round(seconds * 12.5)
const input = await app.Effect.runPromise(app.loadMono24k(flags.input ?? app.assets.helloWav))
/** Frame k of the input, repeated as often as --seconds needs. */
const frameAt = (k) => {
  const frame = new Float32Array(FRAME)
  for (let i = 0; i < FRAME; i++) frame[i] = input[(k * FRAME + i) % input.length]
  return frame
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "web-session-"))
const extra = [...serverArgs]
let voiceName = ""
if (!serverArgs.includes("--voices")) {
  const voices = path.join(work, "voices")
  fs.mkdirSync(voices)
  await writeVoice(
    app,
    path.join(voices, "voice.wav"),
    input.subarray(0, Math.round(Number(flags["voice-seconds"]) * 24000)),
  )
  extra.push("--voices", voices)
  voiceName = "voice.wav"
}

let server
const fail = async (reason, figures = {}, serverLog = server.log) => {
  console.log(JSON.stringify({ ok: false, reason, ...figures, serverLog: serverLog.slice(-20) }))
  await server?.stop()
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}
server = await startWebServer(app, extra, { logFile: flags["server-log"] }).catch((error) =>
  fail(error.message, {}, error.log ?? []),
)

const client = connectClient(
  app,
  server.port,
  app.upstreamClientQuery({
    voice_prompt: voiceName,
    ...(flags["text-prompt"] === undefined ? {} : { text_prompt: flags["text-prompt"] }),
  }),
  { eventChannel: false },
)
const handshakeProblem = await client.handshakeProblem(Number(flags["handshake-timeout"]))
if (handshakeProblem !== undefined) await fail(handshakeProblem, { errors: client.errors })

// Real time: frame k leaves at sendingFrom + 80 k ms (the client sends each Ogg page as it fills).
const sendingFrom = performance.now()
let sendLateMax = 0
for (let k = 0; k < frameCount && client.ws.readyState === app.WebSocket.OPEN; k++) {
  const due = sendingFrom + 80 * k
  const wait = due - performance.now()
  if (wait > 0) await sleep(wait)
  else sendLateMax = Math.max(sendLateMax, -wait)
  await client.sendFrame(frameAt(k))
}
await client.endAudio()
await sleep(1500) // the agent's answer to the last frames
const sessionsBefore = (await server.health()).recentSessions.length
await client.close()
let stats
for (let i = 0; i < 100 && stats === undefined; i++) {
  const recent = (await server.health()).recentSessions
  if (recent.length > sessionsBefore) stats = recent.at(-1)
  else await sleep(100)
}
await server.stop()
fs.rmSync(work, { recursive: true, force: true })

const firstAudioAt = client.audioMessagesAt.find((at) => at >= sendingFrom)
const text = client.text.join("")
const figures = {
  serverStartMs: server.startMs,
  handshakeMs: client.handshakeMs,
  seconds,
  framesSent: frameCount,
  clientSendLateMaxMs: Math.round(sendLateMax),
  agentFramesReceived: client.frames.length,
  firstAgentAudioMs: firstAudioAt === undefined ? undefined : Math.round(firstAudioAt - sendingFrom),
  textChars: text.length,
  text: text.slice(0, 160),
  errors: client.errors,
  session: stats,
}
const maxLate = Number(flags["max-late"])
const problem =
  stats === undefined
    ? "the session's figures never appeared in /api/health"
    : client.errors.length > 0
      ? "the server sent an error"
      : client.frames.length === 0
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
