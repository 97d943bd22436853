/**
 * Reads the vocabulary of a SentencePiece `.model` file: a protobuf `ModelProto` whose
 * field 1 repeats `SentencePiece { 1: piece (string), 2: score (float), 3: type (enum) }`.
 * Only what id-to-piece needs; every other field is skipped by wire type.
 */

/** SentencePiece's `ModelProto.SentencePiece.Type`. */
export const PieceType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const

export interface VocabPiece {
  readonly piece: string
  readonly score: number
  readonly type: number
}

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH = 2
const WIRE_FIXED32 = 5

class ProtoReader {
  pos: number
  private readonly bytes: Uint8Array
  readonly end: number
  constructor(bytes: Uint8Array, start: number, end: number) {
    this.bytes = bytes
    this.pos = start
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  varint(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error(`truncated varint at byte ${this.pos}`)
      const b = this.bytes[this.pos++]!
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return result
      scale *= 128
    }
    throw new Error(`varint longer than 10 bytes at byte ${this.pos}`)
  }

  /** A length-delimited field: the [start, end) range of its payload. */
  span(): [number, number] {
    const length = this.varint()
    const start = this.pos
    if (start + length > this.end)
      throw new Error(`field of ${length} bytes at byte ${start} runs past its message`)
    this.pos += length
    return [start, start + length]
  }

  float32(): number {
    if (this.pos + 4 > this.end) throw new Error(`truncated float at byte ${this.pos}`)
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true)
    this.pos += 4
    return value
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint()
    else if (wire === WIRE_FIXED64) this.pos += 8
    else if (wire === WIRE_LENGTH) this.span()
    else if (wire === WIRE_FIXED32) this.pos += 4
    else throw new Error(`unsupported wire type ${wire} at byte ${this.pos}`)
    if (this.pos > this.end) throw new Error("field runs past its message")
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const readPiece = (bytes: Uint8Array, start: number, end: number): VocabPiece => {
  const reader = new ProtoReader(bytes, start, end)
  let piece: string | undefined
  let score = 0
  let type: number = PieceType.normal
  while (!reader.done) {
    const key = reader.varint()
    const field = Math.floor(key / 8)
    const wire = key & 7
    if (field === 1 && wire === WIRE_LENGTH) {
      const [s, e] = reader.span()
      piece = utf8.decode(bytes.subarray(s, e))
    } else if (field === 2 && wire === WIRE_FIXED32) score = reader.float32()
    else if (field === 3 && wire === WIRE_VARINT) type = reader.varint()
    else reader.skip(wire)
  }
  if (piece === undefined) throw new Error(`vocabulary entry at byte ${start} has no piece string`)
  return { piece, score, type }
}

/** The pieces of a `ModelProto`, in id order. Throws an `Error` describing the first malformed byte. */
export const readVocabulary = (bytes: Uint8Array): ReadonlyArray<VocabPiece> => {
  const reader = new ProtoReader(bytes, 0, bytes.length)
  const pieces: VocabPiece[] = []
  while (!reader.done) {
    const key = reader.varint()
    const field = Math.floor(key / 8)
    const wire = key & 7
    if (field === 0) throw new Error(`invalid field number 0 at byte ${reader.pos}`)
    if (field === 1 && wire === WIRE_LENGTH) {
      const [s, e] = reader.span()
      pieces.push(readPiece(bytes, s, e))
    } else reader.skip(wire)
  }
  return pieces
}
