import * as fs from "node:fs/promises"
import { Effect } from "effect"
import {
  AudioFileNotFoundError,
  AudioFileReadError,
  AudioWriteError,
  EmptyAudioError,
  NotAWavError,
  TruncatedWavError,
  UnsupportedWavEncodingError,
  type WavReadError,
} from "./errors.ts"

/** Decoded audio: one Float32Array per channel (planar), samples nominally in [-1, 1]. */
export interface WavAudio {
  readonly sampleRate: number
  readonly channels: ReadonlyArray<Float32Array>
}

/** Sample encodings this package writes. */
export type WavEncoding = "pcm16" | "float32"

const FORMAT_PCM = 1
const FORMAT_FLOAT = 3
const FORMAT_EXTENSIBLE = 0xfffe

const ascii = (view: DataView, offset: number) =>
  String.fromCharCode(
    view.getUint8(offset),
    view.getUint8(offset + 1),
    view.getUint8(offset + 2),
    view.getUint8(offset + 3),
  )

type DecodeWavError = NotAWavError | TruncatedWavError | UnsupportedWavEncodingError | EmptyAudioError

/**
 * Data sizes that mean "unknown length" rather than a length: 0 and 0xFFFFFFFF (what streaming
 * writers leave when they cannot seek back), and anything from 2 GiB up (the 0x7FFFF000-style
 * placeholders some tools write).
 */
const isStreamingSize = (size: number) => size === 0 || size >= 0x7fff_f000

type SampleReader = (view: DataView, offset: number) => number

const sampleReader = (formatTag: number, bits: number): SampleReader | undefined => {
  if (formatTag === FORMAT_PCM) {
    if (bits === 8) return (v, o) => (v.getUint8(o) - 128) / 128
    if (bits === 16) return (v, o) => v.getInt16(o, true) / 32768
    if (bits === 24)
      return (v, o) => ((v.getInt8(o + 2) << 16) | (v.getUint8(o + 1) << 8) | v.getUint8(o)) / 8388608
    if (bits === 32) return (v, o) => v.getInt32(o, true) / 2147483648
  }
  if (formatTag === FORMAT_FLOAT) {
    if (bits === 32) return (v, o) => v.getFloat32(o, true)
    if (bits === 64) return (v, o) => v.getFloat64(o, true)
  }
  return undefined
}

/**
 * Decodes a RIFF/WAVE byte buffer (PCM 8/16/24/32-bit, IEEE float 32/64-bit, plain or
 * WAVE_FORMAT_EXTENSIBLE). `name` only labels errors. A data chunk whose declared size is a
 * streaming placeholder (0, or 2 GiB and more: a stream written without a final header) is read up
 * to the last whole sample frame present; any other size past the end of the buffer is a file cut
 * short (TruncatedWavError), never read silently as the part that is left.
 */
export const decodeWav = (bytes: Uint8Array, name = "<buffer>"): Effect.Effect<WavAudio, DecodeWavError> =>
  Effect.suspend((): Effect.Effect<WavAudio, DecodeWavError> => {
    const notWav = (reason: string) => Effect.fail(new NotAWavError({ path: name, reason }))
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (bytes.byteLength < 12) return notWav(`only ${bytes.byteLength} bytes, too short for a RIFF header`)
    if (ascii(view, 0) !== "RIFF" || ascii(view, 8) !== "WAVE")
      return notWav(`starts with "${ascii(view, 0)}"…"${ascii(view, 8)}", expected "RIFF"…"WAVE"`)

    let fmt:
      | { formatTag: number; channels: number; sampleRate: number; blockAlign: number; bits: number }
      | undefined
    let data: { offset: number; size: number; declared: number } | undefined
    let offset = 12
    while (offset + 8 <= bytes.byteLength && data === undefined) {
      const id = ascii(view, offset)
      const size = view.getUint32(offset + 4, true)
      const body = offset + 8
      if (id === "fmt ") {
        if (size < 16 || body + 16 > bytes.byteLength)
          return notWav(`"fmt " chunk of ${size} bytes is too short`)
        let formatTag = view.getUint16(body, true)
        // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of the sub-format GUID.
        if (formatTag === FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.byteLength)
          formatTag = view.getUint16(body + 24, true)
        fmt = {
          formatTag,
          channels: view.getUint16(body + 2, true),
          sampleRate: view.getUint32(body + 4, true),
          blockAlign: view.getUint16(body + 12, true),
          bits: view.getUint16(body + 14, true),
        }
      } else if (id === "data") {
        const available = bytes.byteLength - body
        data = { offset: body, size: isStreamingSize(size) ? available : size, declared: size }
      }
      offset = body + size + (size % 2)
    }
    if (fmt === undefined) return notWav(`no "fmt " chunk before the data`)
    if (data === undefined) return notWav(`no "data" chunk`)
    if (fmt.channels === 0) return notWav(`"fmt " chunk declares 0 channels`)
    if (fmt.sampleRate === 0) return notWav(`"fmt " chunk declares a sample rate of 0`)
    if (data.size > bytes.byteLength - data.offset)
      return Effect.fail(
        new TruncatedWavError({
          path: name,
          declaredBytes: data.declared,
          presentBytes: bytes.byteLength - data.offset,
        }),
      )
    const read = sampleReader(fmt.formatTag, fmt.bits)
    if (read === undefined)
      return Effect.fail(
        new UnsupportedWavEncodingError({ path: name, formatTag: fmt.formatTag, bitsPerSample: fmt.bits }),
      )
    const bytesPerSample = fmt.bits / 8
    const blockAlign = Math.max(fmt.blockAlign, bytesPerSample * fmt.channels)
    const frames = Math.floor(data.size / blockAlign)
    if (frames === 0) return Effect.fail(new EmptyAudioError({ path: name }))
    const channels = Array.from({ length: fmt.channels }, () => new Float32Array(frames))
    for (let i = 0; i < frames; i++) {
      const base = data.offset + i * blockAlign
      for (let c = 0; c < fmt.channels; c++) channels[c]![i] = read(view, base + c * bytesPerSample)
    }
    return Effect.succeed({ sampleRate: fmt.sampleRate, channels })
  })

/** Byte layout of the header this package writes, so a streaming writer can rewrite it in place. */
export interface WavFormat {
  readonly sampleRate: number
  readonly channels: number
  readonly encoding: WavEncoding
}

export const bytesPerSample = (encoding: WavEncoding) => (encoding === "pcm16" ? 2 : 4)

/** Header length for `encoding`: 44 bytes for PCM16; 58 for float (18-byte fmt + the fact chunk the spec asks for). */
export const wavHeaderLength = (encoding: WavEncoding) => (encoding === "pcm16" ? 44 : 58)

/** A complete header for `sampleFrames` frames of interleaved audio in `format`. */
export const encodeWavHeader = (format: WavFormat, sampleFrames: number): Uint8Array => {
  const float = format.encoding === "float32"
  const width = bytesPerSample(format.encoding)
  const headerLength = wavHeaderLength(format.encoding)
  const dataSize = sampleFrames * format.channels * width
  const header = new Uint8Array(headerLength)
  const view = new DataView(header.buffer)
  const text = (offset: number, s: string) => {
    for (let i = 0; i < 4; i++) view.setUint8(offset + i, s.charCodeAt(i))
  }
  text(0, "RIFF")
  view.setUint32(4, headerLength - 8 + dataSize + (dataSize % 2), true)
  text(8, "WAVE")
  text(12, "fmt ")
  const fmtSize = float ? 18 : 16
  view.setUint32(16, fmtSize, true)
  view.setUint16(20, float ? FORMAT_FLOAT : FORMAT_PCM, true)
  view.setUint16(22, format.channels, true)
  view.setUint32(24, format.sampleRate, true)
  view.setUint32(28, format.sampleRate * format.channels * width, true)
  view.setUint16(32, format.channels * width, true)
  view.setUint16(34, width * 8, true)
  let offset = 20 + fmtSize
  if (float) {
    view.setUint16(36, 0, true) // cbSize
    text(offset, "fact")
    view.setUint32(offset + 4, 4, true)
    view.setUint32(offset + 8, sampleFrames, true)
    offset += 12
  }
  text(offset, "data")
  view.setUint32(offset + 4, dataSize, true)
  return header
}

/** Interleaves planar float samples into the encoding's little-endian bytes (PCM16 clips to [-1, 1)). */
export const encodeSamples = (channels: ReadonlyArray<Float32Array>, encoding: WavEncoding): Uint8Array => {
  const count = channels.length
  const frames = channels[0]?.length ?? 0
  const width = bytesPerSample(encoding)
  const out = new Uint8Array(frames * count * width)
  const view = new DataView(out.buffer)
  for (let i = 0; i < frames; i++)
    for (let c = 0; c < count; c++) {
      const x = channels[c]![i]!
      const at = (i * count + c) * width
      if (encoding === "float32") view.setFloat32(at, x, true)
      else view.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(x * 32768))), true)
    }
  return out
}

/** A complete WAV file in memory. All channels must have the same length. */
export const encodeWav = (audio: WavAudio, encoding: WavEncoding = "pcm16"): Uint8Array => {
  const frames = audio.channels[0]?.length ?? 0
  const header = encodeWavHeader(
    { sampleRate: audio.sampleRate, channels: audio.channels.length, encoding },
    frames,
  )
  const body = encodeSamples(audio.channels, encoding)
  const file = new Uint8Array(header.length + body.length + (body.length % 2))
  file.set(header)
  file.set(body, header.length)
  return file
}

/** Reads and decodes a WAV file at its own rate and channel count. */
export const readWav = Effect.fn("readWav")(function* (path: string) {
  const bytes = yield* Effect.tryPromise({
    try: () => fs.readFile(path),
    catch: (cause): WavReadError => {
      const code = (cause as NodeJS.ErrnoException).code
      const reason = cause instanceof Error ? cause.message : String(cause)
      return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR"
        ? new AudioFileNotFoundError({ path, reason: code })
        : new AudioFileReadError({ path, reason })
    },
  })
  return yield* decodeWav(bytes, path)
})

/** Writes `audio` as a WAV file (PCM16 unless `encoding` says float32). */
export const writeWav = (
  path: string,
  audio: WavAudio,
  options?: { readonly encoding?: WavEncoding },
): Effect.Effect<void, AudioWriteError> =>
  Effect.gen(function* () {
    const lengths = new Set(audio.channels.map((c) => c.length))
    if (audio.channels.length === 0 || lengths.size !== 1)
      return yield* new AudioWriteError({
        path,
        reason: "audio needs at least one channel, all of the same length",
      })
    const bytes = encodeWav(audio, options?.encoding ?? "pcm16")
    yield* Effect.tryPromise({
      try: () => fs.writeFile(path, bytes),
      catch: (cause) =>
        new AudioWriteError({ path, reason: cause instanceof Error ? cause.message : String(cause) }),
    })
  })
