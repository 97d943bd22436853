import CodecParser, { type OggPage } from "codec-parser"

export interface Playback {
  /** Feeds the Ogg/Opus bytes of one 0x01 message. */
  readonly push: (bytes: Uint8Array) => void
  readonly close: () => void
  readonly analyser: AnalyserNode
  /** Seconds of agent audio decoded, and its overall RMS (the browser test reads these). */
  readonly stats: { decodedSeconds: number; rms: number; packets: number; errors: number }
}

/**
 * Agent audio: Ogg pages (codec-parser) → Opus packets → WebCodecs AudioDecoder → AudioBuffers
 * scheduled back to back, with a small lead so network jitter does not starve the output.
 */
export const startPlayback = (context: AudioContext): Playback => {
  const parser = new CodecParser<OggPage>("audio/ogg", { enableLogging: false })
  const analyser = context.createAnalyser()
  analyser.fftSize = 1024
  analyser.connect(context.destination)
  const stats = { decodedSeconds: 0, rms: 0, packets: 0, errors: 0 }
  let sumSquares = 0
  let samples = 0
  let playhead = 0
  let timestamp = 0
  const LEAD_S = 0.08

  const decoder = new AudioDecoder({
    output: (data) => {
      const pcm = new Float32Array(data.numberOfFrames)
      data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" })
      const rate = data.sampleRate
      data.close()
      for (const x of pcm) sumSquares += x * x
      samples += pcm.length
      stats.decodedSeconds += pcm.length / rate
      stats.rms = Math.sqrt(sumSquares / samples)
      const buffer = context.createBuffer(1, pcm.length, rate)
      buffer.copyToChannel(pcm, 0)
      const node = context.createBufferSource()
      node.buffer = buffer
      node.connect(analyser)
      playhead = Math.max(playhead, context.currentTime + LEAD_S)
      node.start(playhead)
      playhead += buffer.duration
    },
    error: () => {
      stats.errors++
    },
  })
  decoder.configure({ codec: "opus", sampleRate: 48000, numberOfChannels: 1 })

  return {
    analyser,
    stats,
    push: (bytes) => {
      // typed as an Iterator, but it is a generator (iterable)
      for (const page of parser.parseChunk(bytes) as unknown as Iterable<OggPage>) {
        for (const frame of page.codecFrames) {
          stats.packets++
          decoder.decode(new EncodedAudioChunk({ type: "key", timestamp, data: frame.data }))
          timestamp += frame.duration * 1000
        }
      }
    },
    close: () => {
      if (decoder.state !== "closed") decoder.close()
      analyser.disconnect()
    },
  }
}
