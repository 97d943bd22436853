import { describe, expect, it } from "vitest"
import { FRAME_SIZE, OggOpusReader, OggOpusWriter } from "../src/server/opus-ogg.ts"
import { tone } from "./helpers.ts"

const encode = async (frames: ReadonlyArray<Float32Array>) => {
  const pages: Uint8Array[] = []
  const writer = await OggOpusWriter.open((page) => pages.push(page))
  for (const frame of frames) await writer.write(frame)
  await writer.close()
  return pages
}

const rms = (frames: ReadonlyArray<Float32Array>) => {
  let sum = 0
  let n = 0
  for (const f of frames) {
    for (const x of f) sum += x * x
    n += f.length
  }
  return Math.sqrt(sum / n)
}

describe("Ogg/Opus", () => {
  it("writes a stream the reader turns back into 1920-sample frames of the same loudness", async () => {
    const input = tone(25, 440, 0.3)
    const pages = await encode(input)
    // OpusHead and OpusTags pages, then one page per 20 ms packet
    expect(new TextDecoder().decode(pages[0]!.subarray(28, 36))).toBe("OpusHead")
    expect(pages.length).toBeGreaterThanOrEqual(2 + 25 * 4 - 1)
    const reader = new OggOpusReader()
    const frames = pages.flatMap((p) => reader.push(p).frames)
    expect(frames.every((f) => f.length === FRAME_SIZE)).toBe(true)
    expect(frames.length).toBeGreaterThanOrEqual(23)
    expect(rms(frames)).toBeCloseTo(0.3 / Math.SQRT2, 1)
  })

  it("reads pages whatever the chunking, byte by byte included", async () => {
    const pages = await encode(tone(6))
    const all = new Uint8Array(pages.reduce((n, p) => n + p.length, 0))
    let offset = 0
    for (const p of pages) {
      all.set(p, offset)
      offset += p.length
    }
    const whole = new OggOpusReader()
    const wholeFrames = [...whole.push(all).frames]
    const bytewise = new OggOpusReader()
    const bytewiseFrames = [...all].flatMap((b) => bytewise.push(Uint8Array.of(b)).frames)
    expect(bytewise.packetsDecoded).toBe(whole.packetsDecoded)
    expect(bytewiseFrames.length).toBe(wholeFrames.length)
  })

  it("skips garbage between pages and goes on decoding", async () => {
    const pages = await encode(tone(10))
    const reader = new OggOpusReader()
    let frames = 0
    for (const [i, page] of pages.entries()) {
      if (i === 20)
        frames += reader.push(Uint8Array.from({ length: 700 }, (_, j) => (j * 13) % 251)).frames.length
      frames += reader.push(page).frames.length
    }
    expect(reader.packetsDecoded).toBeGreaterThanOrEqual(36)
    expect(frames).toBeGreaterThanOrEqual(8)
  })
})
