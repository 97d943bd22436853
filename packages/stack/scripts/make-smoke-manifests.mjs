// Regenerates assets/smoke/*: the tiny model configs and, per tensor of the tiny upstream
// checkpoints, its name, dtype, shape and value statistics. The smoke models (`ensureSmokeModels`) draw
// random weights with these statistics, so a fresh clone needs neither the fixtures nor Python.
// Run from the repository root after building @personaplex/runtime:
//   node packages/stack/scripts/make-smoke-manifests.mjs [fixtures-dir]
import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"

const fixtures = process.argv[2] ?? upstreamFixturesDir()
const out = new URL("../assets/smoke/", import.meta.url).pathname

// The smoke tokenizer (lm's tiny.model) has 512 pieces: the smoke LM's text vocabulary matches it,
// so every text token it samples can be shown. Only the three text tables change shape.
const SMOKE_TEXT_CARD = 512
const textTables = { "text_emb.weight": 1, "depformer_text_emb.weight": 1, "text_linear.weight": 0 }

const round = (x) => Number(x.toPrecision(6))
for (const model of ["mimi-tiny", "lm-tiny"]) {
  const checkpoint = Checkpoint.openSync(path.join(fixtures, `${model}.safetensors`))
  const tensors = checkpoint.names.map((name) => {
    const info = checkpoint.infoSync(name)
    const { data } = checkpoint.float32Sync(name)
    let sum = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (const v of data) {
      sum += v
      if (v < min) min = v
      if (v > max) max = v
    }
    const mean = sum / data.length
    let sq = 0
    for (const v of data) sq += (v - mean) ** 2
    const std = Math.sqrt(sq / data.length)
    const extra = model === "lm-tiny" ? textTables[name] : undefined
    const shape = extra === undefined ? info.shape : [SMOKE_TEXT_CARD + extra, ...info.shape.slice(1)]
    return {
      name,
      dtype: info.dtype,
      shape,
      mean: round(mean),
      std: round(std),
      min: round(min),
      max: round(max),
    }
  })
  fs.writeFileSync(path.join(out, `${model}.tensors.json`), `${JSON.stringify(tensors)}\n`)
  const config = JSON.parse(fs.readFileSync(path.join(fixtures, `${model}.json`), "utf8"))
  const smokeConfig =
    model === "lm-tiny" ? { config: { ...config.config, text_card: SMOKE_TEXT_CARD } } : config
  fs.writeFileSync(path.join(out, `${model}.json`), `${JSON.stringify(smokeConfig, null, 1)}\n`)
  console.log(`${model}: ${tensors.length} tensors`)
}
