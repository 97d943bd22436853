import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import type { ServerEvent } from "../src/shared/events.ts"

/**
 * A page that talks to the server the way upstream's web client does (upstream-spec §6.3): the microphone
 * through opus-recorder's encoder worker (24 kHz, 20 ms frames, at most 2 frames per Ogg page, streamed
 * pages, complexity 0, application 2049), each page sent as a 0x01 message after the handshake, and the
 * server's 0x01 payloads fed to opus-recorder's decoder worker. The query string is `query`, as given.
 */
const upstreamLikePage = (query: Record<string, string>) => `<!doctype html>
<html><body><button id="go">go</button>
<script src="recorder.min.js"></script>
<script>
const result = { handshake: false, pagesSent: 0, decodedSamples: 0, sumSquares: 0, text: [], events: [], errors: [] }
window.result = result
document.getElementById("go").onclick = () => {
  const query = new URLSearchParams(${JSON.stringify(query)})
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/chat?" + query)
  ws.binaryType = "arraybuffer"
  const decoder = new Worker("decoderWorker.min.js")
  decoder.postMessage({ command: "init", bufferLength: 960, decoderSampleRate: 24000, outputBufferSampleRate: 24000, resampleQuality: 0 })
  decoder.onmessage = (e) => {
    if (!e.data || !e.data[0]) return
    const channel = e.data[0]
    result.decodedSamples += channel.length
    for (const x of channel) result.sumSquares += x * x
  }
  const recorder = new Recorder({ encoderPath: "encoderWorker.min.js", encoderSampleRate: 24000, encoderFrameSize: 20,
    maxFramesPerPage: 2, numberOfChannels: 1, recordingGain: 1, resampleQuality: 3, encoderComplexity: 0,
    encoderApplication: 2049, streamPages: true,
    mediaTrackConstraints: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } })
  recorder.ondataavailable = (page) => {
    if (ws.readyState !== WebSocket.OPEN) return
    const message = new Uint8Array(page.length + 1)
    message[0] = 1
    message.set(page, 1)
    ws.send(message)
    result.pagesSent++
  }
  ws.onmessage = (e) => {
    const data = new Uint8Array(e.data)
    const payload = data.slice(1)
    switch (data[0]) {
      case 0: result.handshake = true; recorder.start(); break
      case 1: decoder.postMessage({ command: "decode", pages: payload }, [payload.buffer]); break
      case 2: result.text.push(new TextDecoder().decode(payload)); break
      case 4: result.events.push(JSON.parse(new TextDecoder().decode(payload))); break
      case 5: result.errors.push(new TextDecoder().decode(payload)); break
    }
  }
}
</script></body></html>`

/** A static folder with the upstream-like page and opus-recorder's scripts, for `--static`. */
export const upstreamPageDir = (query: Record<string, string>): string => {
  const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-upstream-page-"))
  const dist = path.dirname(createRequire(import.meta.url).resolve("opus-recorder/dist/recorder.min.js"))
  for (const file of [
    "recorder.min.js",
    "encoderWorker.min.js",
    "decoderWorker.min.js",
    "decoderWorker.min.wasm",
  ])
    fs.copyFileSync(path.join(dist, file), path.join(staticDir, file))
  fs.writeFileSync(path.join(staticDir, "index.html"), upstreamLikePage(query))
  return staticDir
}

export interface UpstreamPageResult {
  handshake: boolean
  pagesSent: number
  decodedSamples: number
  sumSquares: number
  text: string[]
  events: ServerEvent[]
  errors: string[]
}
