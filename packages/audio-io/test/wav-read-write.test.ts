import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeWav, encodeWav, encodeWavHeader, readWav, writeWav } from "../src/index.ts"
import { maxAbsDiff, sine, tempDir } from "./support/signals.ts"

const dir = tempDir("wav")

/** A hand-built WAV with an arbitrary fmt chunk, for encodings this package reads but does not write. */
const rawWav = (fmt: Uint8Array, data: Uint8Array, extraChunk?: Uint8Array) => {
  const chunks = [
    Buffer.from("fmt "),
    u32(fmt.length),
    fmt,
    ...(extraChunk ? [extraChunk] : []),
    Buffer.from("data"),
    u32(data.length),
    data,
  ]
  const body = Buffer.concat([Buffer.from("WAVE"), ...chunks])
  return new Uint8Array(Buffer.concat([Buffer.from("RIFF"), u32(body.length), body]))
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}
const fmtChunk = (formatTag: number, channels: number, rate: number, bits: number) => {
  const b = Buffer.alloc(16)
  b.writeUInt16LE(formatTag, 0)
  b.writeUInt16LE(channels, 2)
  b.writeUInt32LE(rate, 4)
  b.writeUInt32LE((rate * channels * bits) / 8, 8)
  b.writeUInt16LE((channels * bits) / 8, 12)
  b.writeUInt16LE(bits, 14)
  return b
}

describe("WAV round trip", () => {
  it.effect("PCM16 round-trips within one quantisation step, with the rate and channels kept", () =>
    Effect.gen(function* () {
      const left = sine(440, 16000, 1000, 0.9)
      const right = sine(1000, 16000, 1000, 0.3)
      const file = path.join(dir, "pcm16.wav")
      yield* writeWav(file, { sampleRate: 16000, channels: [left, right] })
      assert.strictEqual(fs.statSync(file).size, 44 + 1000 * 2 * 2)
      const back = yield* readWav(file)
      assert.strictEqual(back.sampleRate, 16000)
      assert.strictEqual(back.channels.length, 2)
      assert.isBelow(maxAbsDiff(back.channels[0]!, left), 1 / 32768 + 1e-9)
      assert.isBelow(maxAbsDiff(back.channels[1]!, right), 1 / 32768 + 1e-9)
      // A second round trip of decoded PCM16 values is exact.
      const again = yield* decodeWav(encodeWav(back))
      assert.deepStrictEqual(again.channels[0], back.channels[0])
    }),
  )

  it.effect("float32 round-trips bit-exactly, including values beyond [-1, 1]", () =>
    Effect.gen(function* () {
      const samples = Float32Array.from([0, 0.25, -1.5, 1e-7, 3, -0.75])
      const file = path.join(dir, "float.wav")
      yield* writeWav(file, { sampleRate: 24000, channels: [samples] }, { encoding: "float32" })
      const back = yield* readWav(file)
      assert.strictEqual(back.sampleRate, 24000)
      assert.deepStrictEqual(back.channels[0], samples)
      // Format tag 3 (IEEE float) and a fact chunk, as the WAVE spec asks of non-PCM data.
      const bytes = fs.readFileSync(file)
      assert.strictEqual(bytes.readUInt16LE(20), 3)
      assert.strictEqual(bytes.toString("latin1", 38, 42), "fact")
      assert.strictEqual(bytes.readUInt32LE(46), samples.length)
    }),
  )

  it.effect("PCM16 clips out-of-range samples instead of wrapping", () =>
    Effect.gen(function* () {
      const back = yield* decodeWav(
        encodeWav({ sampleRate: 8000, channels: [Float32Array.from([2, -2, 1, -1])] }),
      )
      assert.deepStrictEqual(Array.from(back.channels[0]!), [32767 / 32768, -1, 32767 / 32768, -1])
    }),
  )

  it.effect("reads 8-bit, 24-bit, 32-bit PCM, float64 and WAVE_FORMAT_EXTENSIBLE", () =>
    Effect.gen(function* () {
      const pcm8 = yield* decodeWav(rawWav(fmtChunk(1, 1, 8000, 8), Uint8Array.from([128, 192, 64, 0])))
      assert.deepStrictEqual(Array.from(pcm8.channels[0]!), [0, 0.5, -0.5, -1])

      const pcm24 = yield* decodeWav(
        rawWav(fmtChunk(1, 1, 8000, 24), Uint8Array.from([0, 0, 0x40, 0, 0, 0xc0])),
      )
      assert.deepStrictEqual(Array.from(pcm24.channels[0]!), [0.5, -0.5])

      const i32 = Buffer.alloc(8)
      i32.writeInt32LE(-(2 ** 30), 0)
      i32.writeInt32LE(2 ** 29, 4)
      const pcm32 = yield* decodeWav(rawWav(fmtChunk(1, 2, 8000, 32), i32))
      assert.deepStrictEqual([pcm32.channels[0]![0], pcm32.channels[1]![0]], [-0.5, 0.25])

      const f64 = Buffer.alloc(16)
      f64.writeDoubleLE(0.125, 0)
      f64.writeDoubleLE(-0.625, 8)
      const float64 = yield* decodeWav(rawWav(fmtChunk(3, 1, 44100, 64), f64))
      assert.deepStrictEqual(Array.from(float64.channels[0]!), [0.125, -0.625])
      assert.strictEqual(float64.sampleRate, 44100)

      // Extensible: fmt of 40 bytes whose sub-format GUID starts with 0x0001 (PCM).
      const ext = Buffer.alloc(40)
      fmtChunk(0xfffe, 1, 8000, 16).copy(ext)
      ext.writeUInt16LE(22, 16)
      ext.writeUInt16LE(16, 18)
      ext.writeUInt16LE(1, 24)
      const i16 = Buffer.alloc(4)
      i16.writeInt16LE(16384, 0)
      i16.writeInt16LE(-8192, 2)
      const extensible = yield* decodeWav(rawWav(ext, i16))
      assert.deepStrictEqual(Array.from(extensible.channels[0]!), [0.5, -0.25])
    }),
  )

  it.effect("skips unknown chunks and reads a data chunk whose size was never finalised", () =>
    Effect.gen(function* () {
      const list = Buffer.concat([Buffer.from("LIST"), u32(3), Buffer.from("abc\0")])
      const data = Buffer.alloc(6)
      data.writeInt16LE(100, 0)
      data.writeInt16LE(200, 2)
      data.writeInt16LE(300, 4)
      const bytes = rawWav(fmtChunk(1, 1, 8000, 16), data, list)
      const withList = yield* decodeWav(bytes)
      assert.deepStrictEqual(
        Array.from(withList.channels[0]!, (v) => v * 32768),
        [100, 200, 300],
      )
      // A streaming writer that died before the header update leaves 0 or 0xFFFFFFFF there.
      const view = new DataView(bytes.buffer)
      const dataSizeAt = bytes.length - 6 - 4
      view.setUint32(dataSizeAt, 0xffffffff, true)
      assert.strictEqual((yield* decodeWav(bytes)).channels[0]!.length, 3)
      view.setUint32(dataSizeAt, 0, true)
      assert.strictEqual((yield* decodeWav(bytes)).channels[0]!.length, 3)
    }),
  )

  it("the header written for N frames declares exactly N frames", () => {
    const header = encodeWavHeader({ sampleRate: 24000, channels: 1, encoding: "pcm16" }, 1920)
    const view = new DataView(header.buffer)
    assert.strictEqual(header.length, 44)
    assert.strictEqual(view.getUint32(4, true), 36 + 3840)
    assert.strictEqual(view.getUint32(40, true), 3840)
    assert.strictEqual(view.getUint32(28, true), 48000)
  })
})

describe("WAV errors are typed and name the problem", () => {
  it.effect("a missing file", () =>
    Effect.gen(function* () {
      const missing = path.join(dir, "nope.wav")
      const error = yield* Effect.flip(readWav(missing))
      assert.strictEqual(error._tag, "AudioFileNotFoundError")
      assert.include(error.message, missing)
    }),
  )

  it.effect("a file that is not a WAV", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "text.wav")
      fs.writeFileSync(file, "this is plainly some text and not audio")
      const error = yield* Effect.flip(readWav(file))
      assert.strictEqual(error._tag, "NotAWavError")
      assert.include(error.message, file)
      const short = yield* Effect.flip(decodeWav(new Uint8Array(5), "short.wav"))
      assert.strictEqual(short._tag, "NotAWavError")
      const noData = rawWav(fmtChunk(1, 1, 8000, 16), new Uint8Array(0)).slice(0, 36)
      assert.include((yield* Effect.flip(decodeWav(noData, "x.wav"))).message, 'no "data" chunk')
    }),
  )

  it.effect("an unsupported encoding (IMA ADPCM, 12-bit PCM)", () =>
    Effect.gen(function* () {
      const adpcm = yield* Effect.flip(
        decodeWav(rawWav(fmtChunk(0x11, 1, 8000, 4), new Uint8Array(8)), "adpcm.wav"),
      )
      assert.strictEqual(adpcm._tag, "UnsupportedWavEncodingError")
      assert.include(adpcm.message, "format tag 17")
      const odd = yield* Effect.flip(
        decodeWav(rawWav(fmtChunk(1, 1, 8000, 12), new Uint8Array(8)), "odd.wav"),
      )
      assert.strictEqual(odd._tag, "UnsupportedWavEncodingError")
    }),
  )

  it.effect("zero-length audio", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "empty.wav")
      fs.writeFileSync(file, rawWav(fmtChunk(1, 1, 24000, 16), new Uint8Array(0)))
      const error = yield* Effect.flip(readWav(file))
      assert.strictEqual(error._tag, "EmptyAudioError")
      assert.include(error.message, file)
    }),
  )
})
