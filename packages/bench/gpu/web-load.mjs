// A load test of the web server: N scripted WebSocket clients at once against `personaplex-web` (the
// product) started with the server arguments after `--` (e.g. `--max-sessions 8 --config run.yaml`),
// each with its own prompt and voice, and the isolation check: one client (the probe) run alone, then
// again inside the crowd, must get the same agent audio and text.
//
//   node web-load.mjs [--web DIR] [--clients 4] [--seconds 30] [--input in.wav] [--probe-frames 24]
//     [--probe-seconds 8] [--max-late 0] [--out FILE] [--server-log FILE] -- [server args]
//
// The probe sends its first --probe-frames frames in ONE message (so every tick finds its next frame
// waiting: its input is the same whatever the timing; then the server gives it silence) and listens for
// --probe-seconds (longer where the server is slower than real time); the agent frames both runs received are compared by fingerprint (the same tokens
// decode to the same samples), and the text as far as both went. The crowd: the probe and N-1 clients
// streaming the input as a microphone (one 80 ms frame every 80 ms, each from its own offset) for
// --seconds, and on until the probe's run among them is over. Prints one JSON line: per client its frames sent and received, handshake and first-audio
// times and the server's figures for its session (late frames, late input frames, dropped frames,
// frame timing); /api/health's batch figures during the crowd (rows, tick p50/p99, headroom); the
// isolation verdict. Exit status 1 when a client fails (no handshake, an error, no audio), the probe's
// runs differ, or a client has more late + dropped frames than --max-late.
// Without --voices in the server arguments, each client's voice is --voice-seconds of the input from its
// own offset (voice-<i>.wav).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { connectClient, openWebApp, scriptArgs, sleep, startWebServer, writeVoice } from "./web-harness.mjs"

const { flags, serverArgs } = scriptArgs({
  clients: { type: "string", default: "4" },
  seconds: { type: "string", default: "30" },
  "probe-frames": { type: "string", default: "24" },
  "probe-seconds": { type: "string", default: "8" },
  out: { type: "string" },
})
const clients = Number(flags.clients)
const probeFrames = Number(flags["probe-frames"])
const probeSeconds = Number(flags["probe-seconds"])
const seconds = Number(flags.seconds)
const frameCount = Math.round(seconds * 12.5)

const app = await openWebApp(flags.web)
const input = await app.Effect.runPromise(app.loadMono24k(flags.input ?? app.assets.helloWav))
const FRAME = app.FRAME_SIZE
/** Frame k of the input from `offset` frames on, the input repeated as often as needed. */
const frameAt = (k, offset = 0) => {
  const frame = new Float32Array(FRAME)
  const start = (k + offset) * FRAME
  for (let i = 0; i < FRAME; i++) frame[i] = input[(start + i) % input.length]
  return frame
}

const PERSONAS = [
  "You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way.",
  "You work at a bicycle shop. Help the customer choose and repair a bike.",
  "You are a museum guide who loves old clocks.",
  "You are a chef. Suggest a dinner from what the caller has at home.",
  "You are a travel agent planning a weekend by train.",
  "You are a gardener. Answer questions about tomatoes and roses.",
  "You are a patient math tutor for a high-school student.",
  "You run the front desk of a small hotel.",
]
const promptOf = (i) =>
  `${PERSONAS[i % PERSONAS.length]}${i >= PERSONAS.length ? ` You are assistant ${i}.` : ""}`

const work = fs.mkdtempSync(path.join(os.tmpdir(), "web-load-"))
const extra = [...serverArgs]
let voiceOf
if (!serverArgs.includes("--voices")) {
  const voices = path.join(work, "voices")
  fs.mkdirSync(voices)
  const length = Math.round(Number(flags["voice-seconds"]) * 24000)
  for (let i = 0; i < clients; i++) {
    const from = (i * length) % Math.max(1, input.length - length)
    await writeVoice(app, path.join(voices, `voice-${i}.wav`), input.slice(from, from + length))
  }
  extra.push("--voices", voices)
  voiceOf = (i) => `voice-${i}.wav`
}

const server = await startWebServer(app, extra, { logFile: flags["server-log"] })
if (voiceOf === undefined) {
  const { voices } = await server
    .health()
    .then(() => fetch(`${server.base}/api/voices`))
    .then((r) => r.json())
  voiceOf = (i) => voices[i % voices.length] ?? ""
}
const fail = async (reason, figures = {}) => {
  console.log(JSON.stringify({ ok: false, reason, ...figures, serverLog: server.log.slice(-20) }))
  await server.stop()
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}

const handshake = async (client, who) => {
  const problem = await client.handshakeProblem(Number(flags["handshake-timeout"]))
  if (problem !== undefined) await fail(`${who}: ${problem}`, { errors: client.errors })
}

/** The probe: client 0's prompt, voice and first frames at once, then silence from the server. */
const probe = async () => {
  const client = connectClient(app, server.port, { voice_prompt: voiceOf(0), text_prompt: promptOf(0) })
  await handshake(client, "the probe")
  const sentAt = performance.now()
  await client.sendAtOnce(Array.from({ length: probeFrames }, (_, k) => frameAt(k)))
  await sleep(probeSeconds * 1000)
  // Slower than real time, it listens on until its frames and some after have come back, or none came for
  // 3 s (one engine per conversation, --max-sessions 1, steps only on audio: it answers its frames only).
  let heard = client.frames.length
  for (
    let waited = 0, quiet = 0;
    client.frames.length < probeFrames + 12 && quiet < 3000 && waited < 60_000;
  ) {
    await sleep(200)
    waited += 200
    quiet = client.frames.length > heard ? 0 : quiet + 200
    heard = client.frames.length
  }
  const during = await server.health()
  await client.close()
  return { client, sentAt, during }
}

/** A microphone: frame k of the input (from the client's own offset) at start + 80 k ms, for `seconds`. */
const talker = async (i, started) => {
  const client = connectClient(app, server.port, { voice_prompt: voiceOf(i), text_prompt: promptOf(i) })
  await handshake(client, `client ${i}`)
  started()
  const from = performance.now()
  let sendLateMax = 0
  let sent = 0
  for (let k = 0; (k < frameCount || !probeDone) && client.ws.readyState === app.WebSocket.OPEN; k++) {
    const wait = from + 80 * k - performance.now()
    if (wait > 0) await sleep(wait)
    else sendLateMax = Math.max(sendLateMax, -wait)
    await client.sendFrame(frameAt(k, 97 * i))
    sent++
  }
  await sleep(1500) // the agent's answer to the last frames
  await client.close()
  return { client, sentAt: from, framesSent: sent, sendLateMaxMs: Math.round(sendLateMax) }
}

const alone = await probe()
let streaming = 0
let probeDone = false
const crowd = Array.from({ length: clients - 1 }, (_, j) => talker(j + 1, () => streaming++))
// the probe joins once every other client streams
while (streaming < clients - 1) await sleep(100)
await sleep(1000)
const inCrowd = await probe()
probeDone = true
const talkers = await Promise.all(crowd)

// each session's figures, once its close reached /api/health
const everyone = [alone, inCrowd, ...talkers]
let recent = []
for (let i = 0; i < 100; i++) {
  recent = (await server.health()).recentSessions
  if (
    everyone.every(
      (r) => r.client.sessionId === undefined || recent.some((s) => s.sessionId === r.client.sessionId),
    )
  )
    break
  await sleep(100)
}
await server.stop()
fs.rmSync(work, { recursive: true, force: true })

const figuresOf = (role, run, framesSent) => ({
  role,
  sessionId: run.client.sessionId,
  framesSent,
  ...(run.sendLateMaxMs === undefined ? {} : { clientSendLateMaxMs: run.sendLateMaxMs }),
  agentFramesReceived: run.client.frames.length,
  handshakeMs: run.client.handshakeMs,
  firstAgentAudioMs:
    run.client.firstAudioAt === undefined ? undefined : Math.round(run.client.firstAudioAt - run.sentAt),
  textChars: run.client.text.join("").length,
  errors: run.client.errors,
  session: recent.find((s) => s.sessionId === run.client.sessionId),
})
const perClient = [
  figuresOf("probe alone", alone, probeFrames),
  figuresOf("probe in the crowd", inCrowd, probeFrames),
  ...talkers.map((t, j) => figuresOf(`client ${j + 1}`, t, t.framesSent)),
]

const a = alone.client.frames
const b = inCrowd.client.frames
const compared = Math.min(a.length, b.length)
const firstAudioDifference = a.slice(0, compared).findIndex((x, k) => x !== b[k])
const textA = alone.client.text.join("")
const textB = inCrowd.client.text.join("")
const textCompared = Math.min(textA.length, textB.length)
const isolation = {
  framesCompared: compared,
  sameAudio: firstAudioDifference < 0,
  ...(firstAudioDifference < 0 ? {} : { firstDifferentFrame: firstAudioDifference }),
  textCharsCompared: textCompared,
  sameText: textA.slice(0, textCompared) === textB.slice(0, textCompared),
}
const batch = inCrowd.during.batch
const maxLate = Number(flags["max-late"])
const problem =
  perClient.find((c) => c.errors.length > 0)?.role.concat(": the server sent an error") ??
  perClient.find((c) => c.agentFramesReceived === 0)?.role.concat(": no agent audio") ??
  perClient
    .find((c) => c.session === undefined)
    ?.role.concat(": its figures never appeared in /api/health") ??
  (inCrowd.during.sessions < clients
    ? `only ${inCrowd.during.sessions} of ${clients} clients held a conversation slot at once (give --max-sessions ${clients} or more)`
    : undefined) ??
  // the last page of each stream may be held back: two frames of slack
  (compared < probeFrames - 2
    ? `the probe got back ${compared} agent frames for its ${probeFrames} frames of audio`
    : undefined) ??
  (isolation.sameAudio && isolation.sameText
    ? undefined
    : `the probe's agent ${isolation.sameAudio ? "text" : "audio"} differs alone and in the crowd`) ??
  perClient
    .find((c) => c.session.lateFrames + c.session.droppedFrames > maxLate)
    ?.role.concat(`: more late and dropped frames than --max-late ${maxLate}`)
const report = {
  ok: problem === undefined,
  ...(problem === undefined ? {} : { reason: problem }),
  clients,
  seconds,
  serverArgs,
  serverStartMs: server.startMs,
  batch,
  sessionsDuringCrowd: inCrowd.during.sessions,
  isolation,
  perClient,
}
if (flags.out !== undefined) fs.writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`)
console.log(JSON.stringify(report))
process.exit(problem === undefined ? 0 : 1)
