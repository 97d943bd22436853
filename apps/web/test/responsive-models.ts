import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { writeWav } from "@personaplex/audio-io"
import { MimiConfig, writeRandomMimiCheckpoint } from "@personaplex/codec"
import { LmConfig, lmCheckpointTensors, writeRandomLmCheckpoint } from "@personaplex/lm"
import { smokeAssets } from "@personaplex/stack"
import { Effect } from "effect"
import { tone, writeRunConfig } from "./helpers.ts"

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"))

/**
 * Tiny models (the smoke architectures) whose words follow what they hear: fan-in random weights.
 * The smoke models' own weights follow tensor statistics under which every session says the same,
 * whatever its prompt, voice or audio, so they cannot tell one session's tokens from another's.
 * Returns a `personaplex run` config on the CPU naming them, and a voices folder of two WAV voices.
 */
export const responsiveModels = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-responsive-"))
  const lm = path.join(dir, "lm.safetensors")
  const mimi = path.join(dir, "mimi.safetensors")
  writeRandomLmCheckpoint(lm, lmCheckpointTensors(LmConfig.fromJson(readJson(smokeAssets.lmConfig))), 11)
  writeRandomMimiCheckpoint(mimi, MimiConfig.fromJson(readJson(smokeAssets.mimiConfig)), 13)
  const voices = path.join(dir, "voices")
  fs.mkdirSync(voices)
  for (const [name, frequency] of [
    ["low.wav", 150],
    ["high.wav", 290],
  ] as const)
    await Effect.runPromise(
      writeWav(path.join(voices, name), {
        sampleRate: 24000,
        channels: [Float32Array.from(tone(12, frequency).flatMap((f) => [...f]))],
      }),
    )
  const config = path.join(dir, "config.yaml")
  writeRunConfig(config, { ...smokeAssets, lm, mimi }, [
    "runtime:",
    "  device: cpu",
    "  quantization: none",
    `  cache_dir: ${path.join(dir, "converted")}`,
    "",
  ])
  return { config, voices }
}
