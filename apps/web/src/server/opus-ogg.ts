import { Decoder, Encoder } from "@evan/opus"
import CodecParser, { type OggPage } from "codec-parser"
import { EncodedAudioPacketSource, EncodedPacket, NullTarget, OggOutputFormat, Output } from "mediabunny"
import { OggPageScanner } from "./ogg-pages.ts"

/** Model audio: 24 kHz mono, 1920-sample (80 ms) frames. */
export const SAMPLE_RATE = 24000
export const FRAME_SIZE = 1920
/** 20 ms Opus packets (as upstream's client); four per model frame. */
const PACKET_SIZE = 480

const toInt16 = (samples: Float32Array): Int16Array => {
  const out = new Int16Array(samples.length)
  for (let i = 0; i < samples.length; i++) {
    const x = Math.max(-1, Math.min(1, samples[i]!))
    out[i] = Math.round(x * 32767)
  }
  return out
}

const fromInt16Bytes = (bytes: Uint8Array): Float32Array => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(bytes.byteLength >> 1)
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768
  return out
}

/** What one chunk of Ogg bytes gave: complete 1920-sample frames, and packets that failed to decode. */
export interface ReadResult {
  readonly frames: ReadonlyArray<Float32Array>
  readonly problems: ReadonlyArray<string>
}

/**
 * Incoming audio: Ogg pages (any chunking) → Opus packets → 24 kHz mono PCM → 1920-sample frames.
 * `OggPageScanner` frames the pages, checks each page's CRC and reports bytes that are not Ogg; only
 * intact pages reach the Ogg parser (codec-parser, which re-assembles packets). A page that fails its CRC
 * and a packet libopus rejects are reported and skipped.
 */
export class OggOpusReader {
  private readonly scanner = new OggPageScanner()
  private readonly parser = new CodecParser<OggPage>("audio/ogg", { enableLogging: false })
  private readonly decoder = new Decoder({ channels: 1, sample_rate: SAMPLE_RATE })
  private pending = new Float32Array(0)
  packetsDecoded = 0
  samplesDecoded = 0

  get pagesRejected(): number {
    return this.scanner.pagesRejected
  }

  push(chunk: Uint8Array): ReadResult {
    const scanned = this.scanner.push(chunk)
    const problems: string[] = [...scanned.problems]
    const decoded: Float32Array[] = []
    const pages: OggPage[] = []
    for (const bytes of scanned.pages) {
      try {
        // typed as an Iterator, but it is a generator (iterable)
        pages.push(...(this.parser.parseChunk(bytes) as unknown as Iterable<OggPage>))
      } catch (cause) {
        problems.push(`unreadable Ogg page: ${String(cause)}`)
      }
    }
    for (const page of pages) {
      for (const frame of page.codecFrames) {
        try {
          decoded.push(fromInt16Bytes(this.decoder.decode(frame.data)))
          this.packetsDecoded++
        } catch (cause) {
          problems.push(`Opus packet of ${frame.data.length} bytes rejected: ${String(cause)}`)
        }
      }
    }
    return { frames: this.cut(decoded), problems }
  }

  private cut(decoded: ReadonlyArray<Float32Array>): Float32Array[] {
    const total = this.pending.length + decoded.reduce((n, d) => n + d.length, 0)
    if (total === this.pending.length) return []
    const all = new Float32Array(total)
    all.set(this.pending)
    let offset = this.pending.length
    for (const d of decoded) {
      all.set(d, offset)
      offset += d.length
    }
    this.samplesDecoded += total - this.pending.length
    const frames: Float32Array[] = []
    let start = 0
    for (; start + FRAME_SIZE <= total; start += FRAME_SIZE) frames.push(all.slice(start, start + FRAME_SIZE))
    this.pending = all.slice(start)
    return frames
  }
}

/** The Opus identification header (RFC 7845 §5.1) that begins an Ogg Opus stream: mono, 24 kHz input. */
const opusHead = (preSkip: number): Uint8Array => {
  const head = new Uint8Array(19)
  const view = new DataView(head.buffer)
  head.set(new TextEncoder().encode("OpusHead"))
  head[8] = 1 // version
  head[9] = 1 // channels
  view.setUint16(10, preSkip, true)
  view.setUint32(12, SAMPLE_RATE, true)
  view.setInt16(16, 0, true) // output gain
  head[18] = 0 // channel mapping family
  return head
}

/**
 * Outgoing audio: 1920-sample frames → 20 ms Opus packets (libopus via @evan/opus) → Ogg pages
 * (mediabunny's Ogg muxer, at most 20 ms of audio per page so pages leave promptly) → `onPage`.
 */
export class OggOpusWriter {
  private readonly encoder = new Encoder({ channels: 1, sample_rate: SAMPLE_RATE, application: "audio" })
  private readonly source = new EncodedAudioPacketSource("opus")
  private samplesWritten = 0
  private closed = false

  private constructor(private readonly output: Output) {
    output.addAudioTrack(this.source)
  }

  static async open(onPage: (page: Uint8Array) => void): Promise<OggOpusWriter> {
    const output = new Output({
      format: new OggOutputFormat({ maximumPageDuration: 0.02, onPage: (data) => onPage(data.slice()) }),
      target: new NullTarget(),
    })
    const writer = new OggOpusWriter(output)
    await output.start()
    return writer
  }

  async write(frame: Float32Array): Promise<void> {
    if (this.closed) return
    const pcm = toInt16(frame)
    for (let start = 0; start + PACKET_SIZE <= pcm.length; start += PACKET_SIZE) {
      const packet = this.encoder.encode(pcm.subarray(start, start + PACKET_SIZE))
      const first = this.samplesWritten === 0
      await this.source.add(
        new EncodedPacket(packet, "key", this.samplesWritten / SAMPLE_RATE, PACKET_SIZE / SAMPLE_RATE),
        first
          ? {
              decoderConfig: {
                codec: "opus",
                numberOfChannels: 1,
                sampleRate: SAMPLE_RATE,
                // pre-skip is counted at 48 kHz; libopus' encoder look-ahead is 6.5 ms
                description: opusHead(312),
              },
            }
          : undefined,
      )
      this.samplesWritten += PACKET_SIZE
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.samplesWritten > 0) await this.output.finalize()
    else await this.output.cancel()
  }
}
