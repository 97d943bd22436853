import { AudioSample, AudioSampleSource, NullTarget, OggOutputFormat, Output } from "mediabunny"

/** 20 ms of audio per Opus packet and Ogg page, as upstream's client sends. */
const CHUNK_MS = 20

// Copies each 128-sample render quantum of the microphone to the main thread.
const workletSource = `
class CaptureProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0]
    if (channel) this.port.postMessage(channel.slice(0))
    return true
  }
}
registerProcessor("personaplex-capture", CaptureProcessor)
`

export interface Capture {
  stop: () => Promise<void>
  /** RMS of the last microphone chunk. */
  level: number
  pagesSent: number
}

/**
 * Microphone → AudioWorklet → Opus (WebCodecs AudioEncoder, through mediabunny) → Ogg pages
 * (mediabunny's Ogg muxer) → `onPage`, one page per 20 ms.
 */
export const startCapture = async (
  context: AudioContext,
  stream: MediaStream,
  onPage: (page: Uint8Array) => void,
): Promise<Capture> => {
  const moduleUrl = URL.createObjectURL(new Blob([workletSource], { type: "text/javascript" }))
  await context.audioWorklet.addModule(moduleUrl)
  URL.revokeObjectURL(moduleUrl)

  const capture: Capture = { stop: async () => {}, level: 0, pagesSent: 0 }
  const output = new Output({
    format: new OggOutputFormat({
      maximumPageDuration: CHUNK_MS / 1000,
      onPage: (data) => {
        capture.pagesSent++
        onPage(data.slice())
      },
    }),
    target: new NullTarget(),
  })
  const source = new AudioSampleSource({ codec: "opus", bitrate: 32_000 })
  output.addAudioTrack(source)
  await output.start()

  const rate = context.sampleRate
  const chunkSize = Math.round((rate * CHUNK_MS) / 1000)
  let pending = new Float32Array(0)
  let samplesSent = 0
  let queue = Promise.resolve()
  let stopped = false

  const input = context.createMediaStreamSource(stream)
  const node = new AudioWorkletNode(context, "personaplex-capture", { numberOfInputs: 1, numberOfOutputs: 1 })
  const mute = context.createGain()
  mute.gain.value = 0
  input.connect(node).connect(mute).connect(context.destination)

  node.port.onmessage = (event: MessageEvent<Float32Array>) => {
    if (stopped) return
    const joined = new Float32Array(pending.length + event.data.length)
    joined.set(pending)
    joined.set(event.data, pending.length)
    let offset = 0
    while (offset + chunkSize <= joined.length) {
      const chunk = joined.slice(offset, offset + chunkSize)
      offset += chunkSize
      let sum = 0
      for (const x of chunk) sum += x * x
      capture.level = Math.sqrt(sum / chunk.length)
      const sample = new AudioSample({
        data: chunk,
        format: "f32",
        numberOfChannels: 1,
        sampleRate: rate,
        timestamp: samplesSent / rate,
      })
      samplesSent += chunkSize
      queue = queue.then(() => source.add(sample)).finally(() => sample.close())
    }
    pending = joined.slice(offset)
  }

  capture.stop = async () => {
    stopped = true
    node.port.onmessage = null
    input.disconnect()
    node.disconnect()
    mute.disconnect()
    await queue.catch(() => {})
    await output.cancel().catch(() => {})
  }
  return capture
}
