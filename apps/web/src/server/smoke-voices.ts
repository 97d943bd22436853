import * as fs from "node:fs"
import * as path from "node:path"
import { LmGen, saveVoicePrompt } from "@personaplex/lm"
import { type ModelFiles, modelLayer, type RunSettings } from "@personaplex/stack"
import { Data, Effect } from "effect"
import type { Voice } from "./voices.ts"

/** The 18 voices of upstream's release (`voices.tgz`), the names upstream's client offers and sends. */
export const UPSTREAM_VOICE_NAMES: ReadonlyArray<string> = [
  ...[0, 1, 2, 3].map((i) => `NATF${i}.pt`),
  ...[0, 1, 2, 3].map((i) => `NATM${i}.pt`),
  ...[0, 1, 2, 3, 4].map((i) => `VARF${i}.pt`),
  ...[0, 1, 2, 3, 4].map((i) => `VARM${i}.pt`),
]

/** Upstream's client's default voice. */
export const UPSTREAM_DEFAULT_VOICE = "NATF0.pt"

export class SmokeVoicesError extends Data.TaggedError("SmokeVoicesError")<{
  readonly folder: string
  readonly reason: string
}> {
  override get message() {
    return `cannot prepare the smoke voices in ${this.folder}: ${this.reason}`
  }
}

/** Bump when the signal or the recording changes, so stale voices are made again. */
const VERSION = "1"
const SAMPLE_RATE = 24000

/**
 * A voice-like signal (1.2 s): a gliding fundamental, higher for the F voices than the M ones and a
 * little different for each, with decaying harmonics and a syllable-rate envelope.
 */
export const smokeVoiceSignal = (name: string): Float32Array => {
  const index = UPSTREAM_VOICE_NAMES.indexOf(name)
  const female = /^(NAT|VAR)F/.test(name)
  const f0 = (female ? 210 : 115) + 9 * Math.max(0, index % 5)
  const pcm = new Float32Array(Math.round(1.2 * SAMPLE_RATE))
  let phase = 0
  for (let i = 0; i < pcm.length; i++) {
    const t = i / SAMPLE_RATE
    phase += (2 * Math.PI * f0 * (1 + 0.06 * Math.sin(2 * Math.PI * 1.5 * t))) / SAMPLE_RATE
    let x = 0
    for (let h = 1; h <= 6; h++) x += Math.sin(h * phase) / h
    pcm[i] = 0.2 * x * (0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t) ** 2)
  }
  return pcm
}

/** What the voices were recorded with: a changed LM file (regenerated smoke models) makes them again. */
const stampOf = (files: ModelFiles) => {
  const stat = fs.statSync(files.lm)
  return JSON.stringify({ version: VERSION, lm: files.lm, size: stat.size, mtimeMs: stat.mtimeMs })
}

/**
 * Voice prompts sized for the smoke LM under upstream's 18 names, so upstream's client (which always sends
 * one of them, `NATF0.pt` by default) and ours work against the smoke engine with default flags. Each is
 * a voice-like signal run through the voice phase of the smoke Mimi and LM (`LmGen.recordVoicePrompt`, what
 * `personaplex voice import` does with a recording) and saved as our voice-prompt cache (`.safetensors`);
 * the catalog lists it under the upstream name. Made once into `<cacheDir>/smoke-voices-v1` and reused.
 */
export const ensureSmokeVoices = (
  cacheDir: string,
  settings: RunSettings,
  files: ModelFiles,
): Effect.Effect<ReadonlyArray<Voice>, SmokeVoicesError> => {
  const folder = path.join(cacheDir, `smoke-voices-v${VERSION}`)
  const fail = (reason: unknown) =>
    new SmokeVoicesError({ folder, reason: reason instanceof Error ? reason.message : String(reason) })
  const voices: ReadonlyArray<Voice> = UPSTREAM_VOICE_NAMES.map((name) => ({
    name,
    path: path.join(folder, `${name.slice(0, -3)}.safetensors`),
    kind: "embeddings" as const,
  }))
  return Effect.gen(function* () {
    const stampFile = path.join(folder, "smoke-voices.json")
    const stamp = yield* Effect.try({ try: () => stampOf(files), catch: fail })
    const fresh =
      fs.existsSync(stampFile) &&
      fs.readFileSync(stampFile, "utf8") === stamp &&
      voices.every((v) => fs.existsSync(v.path))
    if (fresh) return voices
    yield* Effect.try({ try: () => fs.mkdirSync(folder, { recursive: true }), catch: fail })
    yield* Effect.gen(function* () {
      const lm = yield* LmGen
      for (const voice of voices) {
        const cached = yield* lm.recordVoicePrompt(smokeVoiceSignal(voice.name))
        const temp = `${voice.path}.${process.pid}.tmp`
        yield* saveVoicePrompt(temp, cached)
        yield* Effect.try({ try: () => fs.renameSync(temp, voice.path), catch: fail })
      }
    }).pipe(Effect.provide(modelLayer(settings, files)), Effect.mapError(fail))
    yield* Effect.try({ try: () => fs.writeFileSync(stampFile, stamp), catch: fail })
    return voices
  })
}
