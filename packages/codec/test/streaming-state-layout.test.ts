import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { buildDecoderStep, buildEncoderStep } from "../src/graph/steps.ts"
import { MimiConfig } from "../src/index.ts"
import { decoderTensors, encoderTensors } from "../src/plan.ts"
import { readWeights } from "../src/weights.ts"

const fixtures = upstreamFixturesDir()
const available = fs.existsSync(path.join(fixtures, "mimi-tiny.json"))
if (!available)
  console.log(
    `skipping ${path.basename(import.meta.filename)}: no Mimi fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`,
  )

/** Per-conv buffers of upstream-spec §2.4 / §2.5, at mimi-tiny's widths (n_filters 4, dimension 32). */
describe.skipIf(!available)("streaming state of the step graphs (upstream-spec §2.4, §2.5, §2.9)", () => {
  const config = available
    ? MimiConfig.fromJson(JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8")))
    : MimiConfig.personaplex
  const checkpoint = available ? Checkpoint.openSync(path.join(fixtures, "mimi-tiny.safetensors")) : undefined
  afterAll(() => checkpoint?.close())
  const states = (build: typeof buildEncoderStep, specs: typeof encoderTensors) =>
    Object.fromEntries(
      build(config, readWeights(checkpoint!, specs(config))).states.map((s) => [s.name, [...s.dims]]),
    )

  it("encoder: each conv keeps its last K − s input steps, the downsample 2, each layer a 250-slot KV ring", () => {
    const kv = Object.fromEntries(
      [0, 1].flatMap((l) => [
        [`encoder.layer${l}.keys`, [2, 16, 250]],
        [`encoder.layer${l}.values`, [2, 250, 16]],
      ]),
    )
    expect(states(buildEncoderStep, encoderTensors)).toEqual({
      offset: [1],
      "encoder.model.0.conv.conv": [1, 1, 6],
      "encoder.model.1.block.1.conv.conv": [1, 4, 2],
      "encoder.model.3.conv.conv": [1, 4, 4],
      "encoder.model.4.block.1.conv.conv": [1, 8, 2],
      "encoder.model.6.conv.conv": [1, 8, 5],
      "encoder.model.7.block.1.conv.conv": [1, 16, 2],
      "encoder.model.9.conv.conv": [1, 16, 6],
      "encoder.model.10.block.1.conv.conv": [1, 32, 2],
      "encoder.model.12.conv.conv": [1, 32, 8],
      "encoder.model.14.conv.conv": [1, 64, 2],
      downsample: [1, 32, 2],
      ...kv,
    })
  })

  it("decoder: transposed convs keep a stride-long tail, the upsample 2 steps, convs K − s steps", () => {
    const decoded = states(buildDecoderStep, decoderTensors)
    expect(decoded).toMatchObject({
      offset: [1],
      "upsample.convtr.convtr.convtr": [1, 32, 2],
      "decoder.model.0.conv.conv": [1, 32, 6],
      "decoder.model.2.convtr.convtr": [1, 32, 8],
      "decoder.model.3.block.1.conv.conv": [1, 32, 2],
      "decoder.model.5.convtr.convtr": [1, 16, 6],
      "decoder.model.6.block.1.conv.conv": [1, 16, 2],
      "decoder.model.8.convtr.convtr": [1, 8, 5],
      "decoder.model.9.block.1.conv.conv": [1, 8, 2],
      "decoder.model.11.convtr.convtr": [1, 4, 4],
      "decoder.model.12.block.1.conv.conv": [1, 4, 2],
      "decoder.model.14.conv.conv": [1, 4, 2],
      "decoder.layer0.keys": [2, 16, 250],
    })
    expect(Object.keys(decoded)).toHaveLength(12 + 4)
  })
})
