// With a real Moonshine (PERSONAPLEX_TRANSCRIBER_MODEL: a folder in transformers.js's layout, e.g.
// onnx-community/moonshine-tiny-ONNX downloaded), espeak-ng speaks a sentence and the words come back.
// Skipped otherwise: no real model ships with the repository and CI has no network to fetch one.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { FRAME_SAMPLES, Transcriber } from "../src/index.ts"

const folder = process.env.PERSONAPLEX_TRANSCRIBER_MODEL
const espeak = (() => {
  try {
    execFileSync("espeak-ng", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** espeak-ng's 22.05 kHz 16-bit WAV, nearest-sample to 24 kHz (good enough for words), in frames. */
const spokenFrames = (text: string): Array<Float32Array> => {
  const wav = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "espeak-")), "say.wav")
  execFileSync("espeak-ng", ["-w", wav, text])
  const bytes = fs.readFileSync(wav)
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length))
  const rate = bytes.readUInt32LE(24)
  const out = new Float32Array(Math.ceil((pcm.length * 24000) / rate / FRAME_SAMPLES + 8) * FRAME_SAMPLES)
  for (let i = 0; i < (pcm.length * 24000) / rate; i++) out[i] = pcm[Math.floor((i * rate) / 24000)]! / 32768
  return Array.from({ length: out.length / FRAME_SAMPLES }, (_, i) =>
    out.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES),
  )
}

it.skipIf(folder === undefined || !espeak)(
  "a real Moonshine transcribes an espeak-ng sentence (needs PERSONAPLEX_TRANSCRIBER_MODEL and espeak-ng)",
  async () => {
    const pieces = await Effect.runPromise(
      Effect.gen(function* () {
        const t = yield* Transcriber
        for (const frame of spokenFrames("The meeting is on Thursday at three.")) yield* t.hear(frame)
        return yield* t.flush
      }).pipe(Effect.provide(Transcriber.layer({ source: { folder: folder! } }))),
    )
    const text = pieces
      .map((p) => p.text)
      .join(" ")
      .toLowerCase()
    expect(text).toMatch(/thursday/)
  },
)
