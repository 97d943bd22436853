import { describe, expect, it } from "vitest"
import { OggPageScanner, oggPageCrc } from "../src/server/ogg-pages.ts"
import { OggOpusReader, OggOpusWriter } from "../src/server/opus-ogg.ts"
import { tone } from "./helpers.ts"

const encode = async (frames: ReadonlyArray<Float32Array>) => {
  const pages: Uint8Array[] = []
  const writer = await OggOpusWriter.open((page) => pages.push(page))
  for (const frame of frames) await writer.write(frame)
  await writer.close()
  return pages
}

const concat = (parts: ReadonlyArray<Uint8Array>) => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    all.set(p, offset)
    offset += p.length
  }
  return all
}

describe("the Ogg reader's checks", () => {
  it("computes the Ogg CRC the writer stored (RFC 3533: polynomial 0x04c11db7, checksum field zeroed)", async () => {
    const pages = await encode(tone(3))
    for (const page of pages) {
      const stored = new DataView(page.buffer, page.byteOffset + 22, 4).getUint32(0, true)
      expect(oggPageCrc(page)).toBe(stored)
    }
  })

  it("drops a page whose CRC does not match, says so, and decodes the pages around it", async () => {
    const pages = await encode(tone(10))
    const clean = new OggOpusReader()
    for (const page of pages) clean.push(page)

    const reader = new OggOpusReader()
    const problems: string[] = []
    for (const [i, page] of pages.entries()) {
      const sent = i === 12 ? Uint8Array.from(page) : page
      // one bit flipped in the Opus payload of page 12: the parser alone would decode it
      if (i === 12) sent[sent.length - 3]! ^= 0x10
      problems.push(...reader.push(sent).problems)
    }
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(
      /^Ogg page 12 \(\d+ bytes\) failed its CRC check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\): dropped$/,
    )
    expect(reader.pagesRejected).toBe(1)
    expect(reader.packetsDecoded).toBe(clean.packetsDecoded - 1)
  })

  it("warns about bytes that are not Ogg pages, before, between and inside chunks, and goes on", async () => {
    const pages = await encode(tone(4))
    const garbage = Uint8Array.from({ length: 700 }, (_, j) => (j * 13 + 1) % 251)
    const scanner = new OggPageScanner()
    const first = scanner.push(concat([garbage, ...pages.slice(0, 3)]))
    expect(first.problems).toEqual(["skipped 700 bytes that are not Ogg pages"])
    // "OggS" followed by no page header is not a page either
    const fake = new TextEncoder().encode("OggS but not really a page")
    const second = scanner.push(concat([fake, ...pages.slice(3)]))
    expect(second.problems).toEqual([`skipped ${fake.length} bytes that are not Ogg pages`])
    expect(first.pages.length + second.pages.length).toBe(pages.length)
    // garbage alone (nothing after it) is reported at once
    expect(scanner.push(garbage).problems).toEqual(["skipped 700 bytes that are not Ogg pages"])
  })

  it("keeps a page cut anywhere by the chunking, and reports nothing for a clean stream", async () => {
    const all = concat(await encode(tone(3)))
    const scanner = new OggPageScanner()
    let pages = 0
    for (let i = 0; i < all.length; i += 7) {
      const result = scanner.push(all.subarray(i, i + 7))
      expect(result.problems).toEqual([])
      pages += result.pages.length
    }
    expect(pages).toBe(scanner.pagesAccepted)
    expect(scanner.pagesRejected).toBe(0)
    expect(pages).toBeGreaterThan(10)
  })
})
