// Run on the GPU machine from the deploy folder (pack.sh): writes what `personaplex run` needs to run
// the REAL configuration on random weights in upstream names, into the folder given:
// lm.safetensors (8.37 B parameters, BF16), mimi.safetensors, the tiny test tokenizer (its ids fit the
// 32,000-entry text vocabulary), a 45 s speech-like input.wav, and config-ctx<N>-<precision>.yaml for
// each context and precision given. Usage: node real-models.mjs DIR [contexts] [precisions] [tiny]
// `tiny`: the smoke models' tiny architectures instead (weights of the same kind: every session's words
// follow what it hears), their configs run on the CPU: the same runs, on a machine without a GPU.
import * as fs from "node:fs"
import * as path from "node:path"
import { MimiConfig, writeRandomMimiCheckpoint } from "@personaplex/codec"
import { LmConfig, lmCheckpointTensors, writeRandomLmCheckpoint } from "@personaplex/lm"
import { smokeAssets } from "@personaplex/stack"

const dir = path.resolve(process.argv[2] ?? "models")
const contexts = (process.argv[3] ?? "187,3000").split(",").map(Number)
const precisions = (process.argv[4] ?? "int8").split(",")
const tiny = process.argv[5] === "tiny"
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"))
const lmConfig = tiny ? LmConfig.fromJson(readJson(smokeAssets.lmConfig)) : LmConfig.personaplex
const mimiConfig = tiny ? MimiConfig.fromJson(readJson(smokeAssets.mimiConfig)) : MimiConfig.personaplex
fs.mkdirSync(dir, { recursive: true })
const lm = path.join(dir, "lm.safetensors")
const mimi = path.join(dir, "mimi.safetensors")
const tokenizer = path.join(dir, "tokenizer.model")
const t0 = performance.now()
if (!fs.existsSync(lm)) writeRandomLmCheckpoint(lm, lmCheckpointTensors(lmConfig))
if (!fs.existsSync(mimi)) writeRandomMimiCheckpoint(mimi, mimiConfig)
fs.copyFileSync(smokeAssets.tokenizer, tokenizer)
console.log(`checkpoints in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

// 45 s of a voiced-sounding signal: harmonics under a syllable-rate envelope, pauses every few seconds.
const rate = 24000
const samples = new Int16Array(45 * rate)
let seed = 7
for (let i = 0; i < samples.length; i++) {
  const t = i / rate
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  const talking = t % 6 < 4.5 ? 1 : 0
  const envelope = talking * (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t))
  const f0 = 140 + 30 * Math.sin(2 * Math.PI * 0.3 * t)
  const voice = [1, 2, 3, 4].reduce((sum, h) => sum + Math.sin(2 * Math.PI * f0 * h * t) / h, 0)
  samples[i] = Math.round(32767 * (0.15 * envelope * voice + 0.005 * (seed / 2 ** 32 - 0.5)))
}
const header = Buffer.alloc(44)
header.write("RIFF", 0)
header.writeUInt32LE(36 + samples.byteLength, 4)
header.write("WAVEfmt ", 8)
header.writeUInt32LE(16, 16)
header.writeUInt16LE(1, 20)
header.writeUInt16LE(1, 22)
header.writeUInt32LE(rate, 24)
header.writeUInt32LE(rate * 2, 28)
header.writeUInt16LE(2, 32)
header.writeUInt16LE(16, 34)
header.write("data", 36)
header.writeUInt32LE(samples.byteLength, 40)
fs.writeFileSync(path.join(dir, "input.wav"), Buffer.concat([header, Buffer.from(samples.buffer)]))

for (const context of contexts)
  for (const precision of precisions)
    fs.writeFileSync(
      path.join(dir, `config-ctx${context}-${precision}.yaml`),
      [
        "model:",
        `  lm: ${lm}`,
        `  mimi: ${mimi}`,
        `  tokenizer: ${tokenizer}`,
        ...(tiny ? [`  lm_config: ${smokeAssets.lmConfig}`, `  mimi_config: ${smokeAssets.mimiConfig}`] : []),
        "runtime:",
        `  device: ${tiny ? "cpu" : "webgpu"}`,
        `  quantization: ${precision}`,
        `  context_window: ${context}`,
        `  cache_dir: ${path.join(dir, "converted")}`,
        "conversation:",
        "  duration: 20",
        "",
      ].join("\n"),
    )
console.log(`wrote ${dir}`)
