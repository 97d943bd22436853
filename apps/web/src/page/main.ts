import type { ServerEvent } from "../shared/events.ts"
import { decodeMessage, encodeAudio } from "../shared/protocol.ts"
import { type Capture, startCapture } from "./capture.ts"
import { type Playback, startPlayback } from "./playback.ts"
import { ConversationView } from "./view.ts"

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const view = new ConversationView()

interface Live {
  ws: WebSocket
  context: AudioContext
  stream: MediaStream
  playback: Playback
  capture: Capture | undefined
  meterTimer: number
}
let live: Live | undefined

/** What the browser test reads. */
const debug = {
  state: "idle" as "idle" | "connecting" | "live" | "closed" | "error",
  handshake: false,
  errors: [] as string[],
  closeCode: 0,
  closeReason: "",
  /** Place in the server's line while every conversation slot is taken (0: not waiting). */
  queuePosition: 0,
  get audio() {
    return live?.playback.stats ?? lastStats
  },
  get pagesSent() {
    return live?.capture?.pagesSent ?? 0
  },
  get textPieces() {
    return view.textPieces
  },
  events: [] as ServerEvent[],
}
let lastStats = { decodedSeconds: 0, rms: 0, packets: 0, errors: 0 }
;(window as unknown as { personaplex: typeof debug }).personaplex = debug

const loadVoices = async () => {
  const select = $<HTMLSelectElement>("voice")
  try {
    const res = await fetch("./api/voices")
    const body = (await res.json()) as { voices: string[]; default: string }
    const options = [["", "(no voice prompt)"], ...body.voices.map((v) => [v, v])]
    select.replaceChildren(
      ...options.map(([value, label]) => {
        const o = document.createElement("option")
        o.value = value!
        o.textContent = label!
        return o
      }),
    )
    select.value = body.default || body.voices[0] || ""
  } catch (error) {
    view.error(`cannot list voices: ${String(error)}`)
  }
}

const level = (analyser: AnalyserNode) => {
  const data = new Float32Array(analyser.fftSize)
  analyser.getFloatTimeDomainData(data)
  let sum = 0
  for (const x of data) sum += x * x
  return Math.sqrt(sum / data.length)
}

const setMeter = (id: string, rms: number) => {
  $(id).style.width = `${Math.min(100, Math.sqrt(rms) * 160).toFixed(0)}%`
}

const setButtons = (connected: boolean) => {
  $<HTMLButtonElement>("connect").disabled = connected
  $<HTMLButtonElement>("disconnect").disabled = !connected
}

const connect = async () => {
  view.reset()
  view.error(undefined)
  debug.state = "connecting"
  debug.handshake = false
  debug.events = []
  debug.errors = []
  debug.queuePosition = 0
  view.status("connecting…", "connecting")
  setButtons(true)
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  })
  const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" })
  await context.resume()
  const query = new URLSearchParams({
    voice_prompt: $<HTMLSelectElement>("voice").value,
    text_prompt: $<HTMLTextAreaElement>("prompt").value,
    events: "json",
  })
  const url = new URL(`./api/chat?${query}`, location.href)
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:"
  const ws = new WebSocket(url)
  ws.binaryType = "arraybuffer"
  const playback = startPlayback(context)
  const state: Live = { ws, context, stream, playback, capture: undefined, meterTimer: 0 }
  live = state
  state.meterTimer = window.setInterval(() => {
    setMeter("lvl-agent", level(playback.analyser))
    setMeter("lvl-mic", state.capture?.level ?? 0)
  }, 100)

  ws.onmessage = async (event: MessageEvent<ArrayBuffer>) => {
    const message = decodeMessage(new Uint8Array(event.data))
    switch (message.kind) {
      case "handshake": {
        debug.handshake = true
        debug.queuePosition = 0
        view.queue(undefined)
        debug.state = "live"
        view.status("live", "live")
        view.connected()
        state.capture = await startCapture(context, stream, (page) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(encodeAudio(page))
        })
        return
      }
      case "audio":
        return playback.push(message.payload)
      case "text":
        return view.text(message.text)
      case "metadata": {
        const parsed = JSON.parse(message.text) as ServerEvent
        debug.events.push(parsed)
        if (parsed.type === "queue") {
          debug.queuePosition = parsed.position
          view.status(`waiting · place ${parsed.position}`, "connecting")
        }
        return view.event(parsed)
      }
      case "error":
        debug.errors.push(message.text)
        return view.error(message.text)
      default:
        return
    }
  }
  ws.onclose = (event) => {
    debug.closeCode = event.code
    debug.closeReason = event.reason
    if (debug.state !== "error") debug.state = "closed"
    view.queue(undefined)
    const refused = debug.errors.length > 0
    // every 0x05 message, and how the socket closed unless it was a plain goodbye
    const abnormal = event.code !== 1000 && event.code !== 1005 && live === state
    if (refused || abnormal) {
      const how = `connection closed (code ${event.code}${event.reason === "" ? "" : `: ${event.reason}`})`
      view.error([...debug.errors, how].join("\n"))
    }
    view.status(
      refused ? "refused" : abnormal ? "closed" : "disconnected",
      refused || abnormal ? "error" : "idle",
    )
    void teardown(state)
  }
}

const teardown = async (state: Live) => {
  if (live !== state) return
  live = undefined
  lastStats = { ...state.playback.stats }
  window.clearInterval(state.meterTimer)
  await state.capture?.stop()
  state.playback.close()
  for (const track of state.stream.getTracks()) track.stop()
  if (state.ws.readyState === WebSocket.OPEN) state.ws.close()
  await state.context.close()
  setButtons(false)
}

$("connect").addEventListener("click", () => {
  connect().catch((error) => {
    debug.state = "error"
    view.status("error", "error")
    view.error(String(error))
    setButtons(false)
  })
})
$("disconnect").addEventListener("click", () => {
  if (live !== undefined) void teardown(live).then(() => view.status("disconnected", "idle"))
})
void loadVoices()
