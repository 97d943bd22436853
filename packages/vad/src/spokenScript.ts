import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AUDIO_SAMPLE_RATE, type AudioError, readWav, resampleTo24k } from "@personaplex/audio-io"
import { Data, Effect } from "effect"

/** espeak-ng failed on a sentence (missing, or a bad voice). */
export class EspeakError extends Data.TaggedError("EspeakError")<{
  readonly text: string
  readonly reason: string
}> {
  override get message() {
    return `espeak-ng could not say ${JSON.stringify(this.text)}: ${this.reason}`
  }
}

/** One part of a spoken script: a sentence for espeak-ng to say, or silence. */
export type ScriptPart = { readonly say: string } | { readonly silenceMs: number }

/** Where each part lies in the audio, in 24 kHz samples (`end` exclusive). */
export interface ScriptSpan {
  readonly kind: "speech" | "silence"
  readonly start: number
  readonly end: number
  readonly text?: string
}

export interface SpokenScript {
  /** 24 kHz mono. */
  readonly samples: Float32Array
  readonly spans: ReadonlyArray<ScriptSpan>
}

/** Why espeak-ng cannot be used here, or `undefined` when it can (tests skip with this reason). */
export const espeakMissing = (): string | undefined => {
  try {
    execFileSync("espeak-ng", ["--version"], { stdio: "ignore" })
    return undefined
  } catch {
    return "espeak-ng is not installed (apt-get install -y espeak-ng)"
  }
}

/** The sounding part of a clip: espeak-ng pads its output with silence, which would blur the spans. */
const trim = (x: Float32Array, floor = 1e-3) => {
  let start = 0
  let end = x.length
  while (start < end && Math.abs(x[start]!) < floor) start++
  while (end > start && Math.abs(x[end - 1]!) < floor) end--
  return x.subarray(start, end)
}

/**
 * Speech made at run time: each sentence said by espeak-ng (trimmed to where it sounds), with the
 * given silences between, resampled to 24 kHz; the spans say exactly where each sentence and gap is.
 * For tests of anything that listens to the user (voice activity, switch policies, transcription).
 */
export const speakScript = (
  parts: ReadonlyArray<ScriptPart>,
): Effect.Effect<SpokenScript, AudioError | EspeakError> =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spoken-"))
    const pieces: Array<Float32Array> = []
    const spans: Array<ScriptSpan> = []
    let at = 0
    for (const [i, part] of parts.entries()) {
      let piece: Float32Array
      if ("say" in part) {
        const file = path.join(dir, `${i}.wav`)
        yield* Effect.try({
          try: () => execFileSync("espeak-ng", ["-w", file, part.say], { stdio: "pipe" }),
          catch: (cause) => new EspeakError({ text: part.say, reason: String(cause) }),
        })
        piece = trim(yield* resampleTo24k(yield* readWav(file))).slice()
        spans.push({ kind: "speech", start: at, end: at + piece.length, text: part.say })
      } else {
        piece = new Float32Array(Math.round((part.silenceMs / 1000) * AUDIO_SAMPLE_RATE))
        spans.push({ kind: "silence", start: at, end: at + piece.length })
      }
      pieces.push(piece)
      at += piece.length
    }
    fs.rmSync(dir, { recursive: true, force: true })
    const samples = new Float32Array(at)
    let offset = 0
    for (const p of pieces) {
      samples.set(p, offset)
      offset += p.length
    }
    return { samples, spans }
  })
