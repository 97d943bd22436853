/**
 * Ogg page framing with the checks codec-parser leaves out: each page's CRC (RFC 3533 §6: CRC-32,
 * polynomial 0x04c11db7, no reflection, computed with the checksum field zeroed) is verified, and bytes
 * that belong to no page are reported. Only whole, intact pages go on to codec-parser.
 */

const CAPTURE = [0x4f, 0x67, 0x67, 0x53] // "OggS"
const HEADER = 27

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let crc = n << 24
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1
    table[n] = crc >>> 0
  }
  return table
})()

/** The Ogg CRC of a whole page, its checksum field (bytes 22-25) counted as zero. */
export const oggPageCrc = (page: Uint8Array): number => {
  let crc = 0
  for (let i = 0; i < page.length; i++) {
    const byte = i >= 22 && i < 26 ? 0 : page[i]!
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0
  }
  return crc
}

const isCaptureAt = (bytes: Uint8Array, at: number): boolean =>
  bytes[at] === CAPTURE[0] &&
  bytes[at + 1] === CAPTURE[1] &&
  bytes[at + 2] === CAPTURE[2] &&
  bytes[at + 3] === CAPTURE[3]

/** The next "OggS" at or after `from`; or, when none, where a capture pattern cut by the chunk end could start. */
const nextCapture = (bytes: Uint8Array, from: number): { at: number; found: boolean } => {
  for (let i = from; i + 4 <= bytes.length; i++) if (isCaptureAt(bytes, i)) return { at: i, found: true }
  let keep = bytes.length
  for (let i = Math.max(from, bytes.length - 3); i < bytes.length; i++) {
    const tail = bytes.length - i
    if (CAPTURE.slice(0, tail).every((b, k) => bytes[i + k] === b)) {
      keep = i
      break
    }
  }
  return { at: keep, found: false }
}

export interface ScanResult {
  /** Complete pages whose CRC matched, in stream order. */
  readonly pages: ReadonlyArray<Uint8Array>
  readonly problems: ReadonlyArray<string>
}

/** Cuts a byte stream (any chunking) into verified Ogg pages. */
export class OggPageScanner {
  private buffer = new Uint8Array(0)
  /** Garbage bytes seen since the last good page, reported once the stream re-syncs (or grows large). */
  private skipped = 0
  pagesAccepted = 0
  pagesRejected = 0

  push(chunk: Uint8Array): ScanResult {
    const pages: Uint8Array[] = []
    const problems: string[] = []
    const bytes = new Uint8Array(this.buffer.length + chunk.length)
    bytes.set(this.buffer)
    bytes.set(chunk, this.buffer.length)
    let at = 0
    const flushSkipped = () => {
      if (this.skipped > 0) problems.push(`skipped ${this.skipped} bytes that are not Ogg pages`)
      this.skipped = 0
    }
    for (;;) {
      if (!isCaptureAt(bytes, at)) {
        const next = nextCapture(bytes, at)
        this.skipped += next.at - at
        at = next.at
        if (!next.found) break
      }
      if (bytes.length - at < HEADER) break
      const segments = bytes[at + 26]!
      if (bytes.length - at < HEADER + segments) break
      let body = 0
      for (let s = 0; s < segments; s++) body += bytes[at + HEADER + s]!
      const length = HEADER + segments + body
      if (bytes[at + 4] !== 0) {
        // not a version-0 page header: a false capture pattern
        this.skipped += 4
        at += 4
        continue
      }
      if (bytes.length - at < length) break
      const page = bytes.subarray(at, at + length)
      const stored = new DataView(page.buffer, page.byteOffset + 22, 4).getUint32(0, true)
      const computed = oggPageCrc(page)
      if (stored !== computed) {
        flushSkipped()
        const sequence = new DataView(page.buffer, page.byteOffset + 18, 4).getUint32(0, true)
        problems.push(
          `Ogg page ${sequence} (${length} bytes) failed its CRC check (stored ${hex(stored)}, computed ${hex(computed)}): dropped`,
        )
        this.pagesRejected++
        // A page whose length leads to the next capture pattern (or to the end of what came) is skipped
        // whole; otherwise its header may be what is corrupted, and the scan re-syncs after "OggS".
        const end = at + length
        at = end === bytes.length || isCaptureAt(bytes, end) ? end : at + 4
        continue
      }
      flushSkipped()
      pages.push(page.slice())
      this.pagesAccepted++
      at += length
    }
    this.buffer = bytes.slice(at)
    // Garbage with no page after it: report it now rather than never (the next page starts fresh).
    if (this.skipped >= 64 * 1024 || (this.skipped > 0 && this.buffer.length === 0)) flushSkipped()
    return { pages, problems }
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`
