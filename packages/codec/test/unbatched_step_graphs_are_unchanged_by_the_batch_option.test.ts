import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { MimiConfig } from "../src/config.ts"
import { buildDecoderStep, buildEncoderStep } from "../src/graph/steps.ts"
import { decoderTensors, encoderTensors } from "../src/plan.ts"
import { readWeights } from "../src/weights.ts"

const fixtures = upstreamFixturesDir()
const configPath = path.join(fixtures, "mimi-tiny.json")
const available = fs.existsSync(configPath)
if (!available) console.log(`skipping the step graph byte checks: no fixtures at ${fixtures}`)

const load = () => {
  const config = MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8")))
  const checkpoint = Checkpoint.openSync(path.join(fixtures, "mimi-tiny.safetensors"))
  try {
    return {
      config,
      encoderWeights: readWeights(checkpoint, encoderTensors(config)),
      decoderWeights: readWeights(checkpoint, decoderTensors(config)),
    }
  } finally {
    checkpoint.close()
  }
}

const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex").slice(0, 16)

/**
 * SHA-256 prefixes of mimi-tiny's serialized step graphs (encoder, decoder) as they were before the
 * batch option existed (commit c0d3156). A deliberate change to the unbatched graphs updates these.
 */
const UNBATCHED = [
  { options: {}, encoder: "52ce6cd67aa9030a", decoder: "3abc14fde6bccf5e" },
  { options: { ringsInGraph: true }, encoder: "7105cb31babc6465", decoder: "2693762647a4e1b6" },
  { options: { forms: "gpu" as const }, encoder: "348d54ffee13f667", decoder: "0e49cfb34126ba2c" },
  {
    options: { ringsInGraph: true, forms: "gpu" as const },
    encoder: "4f3755c34191747b",
    decoder: "83fdd3ede9c48408",
  },
]

describe.skipIf(!available)("Mimi step graphs and the batch option", () => {
  it.each(UNBATCHED)(
    "batch 1 ($options) serializes to the same bytes as the unbatched graph",
    ({ options, encoder, decoder }) => {
      const { config, encoderWeights, decoderWeights } = load()
      for (const batch of [undefined, 1]) {
        const withBatch = batch === undefined ? options : { ...options, batch }
        expect(digest(buildEncoderStep(config, encoderWeights, withBatch).g.toBytes())).toBe(encoder)
        expect(digest(buildDecoderStep(config, decoderWeights, withBatch).g.toBytes())).toBe(decoder)
      }
    },
  )

  it("a batched graph gives every state a leading row per stream", () => {
    const { config, encoderWeights, decoderWeights } = load()
    const options = { ringsInGraph: true }
    for (const build of [
      () => [
        buildEncoderStep(config, encoderWeights, options),
        buildEncoderStep(config, encoderWeights, { ...options, batch: 4 }),
      ],
      () => [
        buildDecoderStep(config, decoderWeights, options),
        buildDecoderStep(config, decoderWeights, { ...options, batch: 4 }),
      ],
    ]) {
      const [single, batched] = build()
      expect(batched!.states.map((s) => s.name)).toEqual(single!.states.map((s) => s.name))
      for (const [i, spec] of batched!.states.entries()) {
        const one = single!.states[i]!
        // The offset `[1]` becomes `[4]`; every other state gains a leading row.
        expect(spec.dims).toEqual(
          one.dims.length === 1 ? [4] : one.dims[0] === 1 ? [4, ...one.dims.slice(1)] : [4, ...one.dims],
        )
      }
    }
  })

  it("refuses a batched graph whose rings the host would write", () => {
    const { config, encoderWeights } = load()
    expect(() => buildEncoderStep(config, encoderWeights, { batch: 2 })).toThrow(/ringsInGraph/)
  })
})
