import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CONTEXT_CHOICES } from "@personaplex/lm"
import { upstreamFixturesDir } from "@personaplex/runtime"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { inspectCheckpoints, renderInspection } from "../src/index.ts"
import { writeTinyLm, writeUnrelatedCheckpoint } from "./helpers/tinyModels.ts"

const fixtures = upstreamFixturesDir()
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "inspect-"))
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }))

describe("inspectCheckpoints", () => {
  it("summarises the upstream tiny models in the fixtures folder", async () => {
    const summaries = await Effect.runPromise(inspectCheckpoints(fixtures))
    const text = renderInspection(summaries)
    console.log(text)
    const byName = new Map(summaries.map((s) => [path.basename(s.path), s]))
    expect([...byName.keys()]).toEqual([
      "lm-tiny-ctx12-io.safetensors",
      "lm-tiny-io.safetensors",
      "lm-tiny.safetensors",
      "mimi-tiny-io.safetensors",
      "mimi-tiny.safetensors",
    ])

    const lm = byName.get("lm-tiny.safetensors")!
    const config = JSON.parse(fs.readFileSync(path.join(fixtures, "lm-tiny.json"), "utf8")).config
    expect(lm.model).toBe("moshi-lm")
    expect(lm.lm).toMatchObject({
      dim: config.dim,
      numLayers: config.num_layers,
      textCard: config.text_card,
      card: config.card,
      audioStreams: config.n_q,
      depformerDim: config.depformer_dim,
      depformerLayers: config.depformer_num_layers,
      selfAttentionSteps: config.dep_q,
      perStepModuleSteps: config.dep_q,
    })
    expect(lm.lm!.depformer.layout).toBe("16-step")
    expect(lm.dtypes.map((d) => d.dtype)).toEqual(["BF16"])
    expect(lm.parameters).toBe(lm.dtypes[0]!.parameters)
    expect(lm.fileBytes).toBe(fs.statSync(path.join(fixtures, "lm-tiny.safetensors")).size)
    // bf16 weights: 2 bytes a parameter, and the data section of the file is exactly that
    expect(lm.memory.find((m) => m.quantization === "bf16/fp16")!.bytes).toBe(2 * lm.parameters)
    const int8 = lm.memory.find((m) => m.quantization === "int8")!.bytes
    const int4 = lm.memory.find((m) => m.quantization === "int4")!.bytes
    expect(int4).toBeLessThan(int8)
    expect(int8).toBeLessThan(2 * lm.parameters)
    // KV: layers × (K, V) × dim × 2 bytes per frame of context (upstream-spec §9.3)
    expect(lm.kvCache.map((kv) => kv.context)).toEqual([...CONTEXT_CHOICES])
    expect(lm.kvCache.at(-1)!.bf16Bytes).toBe(config.num_layers * 2 * config.dim * 2 * 3000)
    expect(lm.kvCache[0]!.seconds).toBeCloseTo(14.96, 2)

    const mimi = byName.get("mimi-tiny.safetensors")!
    const mimiConfig = JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8"))
    expect(mimi.model).toBe("mimi")
    expect(mimi.kvCache).toEqual([])
    expect(mimi.mimi).toEqual({
      storedCodebooks: mimiConfig.quantizer.n_q,
      encoderTransformerLayers: mimiConfig.transformer.num_layers,
      decoderTransformerLayers: mimiConfig.transformer.num_layers,
    })

    expect(byName.get("lm-tiny-io.safetensors")!.model).toBe("unknown")
    expect(text).toMatch(/lm-tiny\.safetensors\n {2}model {7}Moshi LM/)
    expect(text).toMatch(/layout {6}16-step/)
    expect(text).toMatch(/model {7}Mimi codec/)
  })

  it("reports the 8-step layout and the patch it needs", async () => {
    const tmp = fs.mkdtempSync(path.join(tmpRoot, "case-"))
    const file = path.join(tmp, "lm8.safetensors")
    writeTinyLm(file, 8)
    const [summary] = await Effect.runPromise(inspectCheckpoints(file))
    expect(summary!.lm!.depformer.layout).toBe("8-step")
    const text = renderInspection([summary!], { tensors: true })
    expect(text).toMatch(
      /layout {6}8-step .*patched to 16 steps: 4 attention projections repeated, 55 per-step tensors copied/,
    )
    expect(text).toMatch(/missing {5}depformer_emb\.7\.weight/)
    expect(text).toMatch(/ {4}linears\.7\.weight {2}BF16 \[16, 8\]/)
  })

  it("gives upstream's figures for the full-size PersonaPlex LM layout (header of a sparse file)", async () => {
    const tmp = fs.mkdtempSync(path.join(tmpRoot, "case-"))
    const file = path.join(tmp, "model.safetensors")
    writeSparseCheckpoint(file, personaPlexLmShapes())
    const [summary] = await Effect.runPromise(inspectCheckpoints(file))
    fs.rmSync(tmp, { recursive: true })
    // upstream-spec §9.1 and §9.3
    expect(summary!.parameters).toBe(8_371_408_896)
    expect(summary!.memory.find((m) => m.quantization === "bf16/fp16")!.bytes).toBe(2 * 8_371_408_896)
    expect(summary!.kvCache.find((kv) => kv.context === 3000)!.bf16Bytes).toBe(1_572_864_000)
    expect(summary!.lm).toMatchObject({
      dim: 4096,
      numLayers: 32,
      textCard: 32000,
      card: 2048,
      depformerDim: 1024,
      depformerLayers: 6,
    })
    expect(summary!.lm!.depformer.layout).toBe("16-step")
    console.log(renderInspection([summary!]))
  })

  it("says unknown for a checkpoint of another model", async () => {
    const tmp = fs.mkdtempSync(path.join(tmpRoot, "case-"))
    const file = path.join(tmp, "other.safetensors")
    writeUnrelatedCheckpoint(file)
    const [summary] = await Effect.runPromise(inspectCheckpoints(file))
    expect(summary!.model).toBe("unknown")
    expect(summary!.reason).toMatch(
      /none of the marker tensors of a Moshi LM \(text_emb\.weight, .*\) or a Mimi codec/,
    )
  })

  it("fails with the path for a missing location", async () => {
    const error = await Effect.runPromise(Effect.flip(inspectCheckpoints("/nonexistent/model.safetensors")))
    expect(error.message).toBe("/nonexistent/model.safetensors: no such file or folder")
  })
})

/** The LM tensor list of upstream-spec §3.8 (dep_q = 16). */
const personaPlexLmShapes = (): Array<[string, number[]]> => {
  const t: Array<[string, number[]]> = [
    ["text_emb.weight", [32001, 4096]],
    ["text_linear.weight", [32000, 4096]],
    ["out_norm.alpha", [1, 1, 4096]],
    ["depformer_text_emb.weight", [32001, 1024]],
  ]
  for (let k = 0; k < 16; k++)
    t.push(
      [`emb.${k}.weight`, [2049, 4096]],
      [`depformer_in.${k}.weight`, [1024, 4096]],
      [`linears.${k}.weight`, [2048, 1024]],
    )
  for (let k = 0; k < 15; k++) t.push([`depformer_emb.${k}.weight`, [2049, 1024]])
  for (let l = 0; l < 32; l++)
    t.push(
      [`transformer.layers.${l}.self_attn.in_proj_weight`, [12288, 4096]],
      [`transformer.layers.${l}.self_attn.out_proj.weight`, [4096, 4096]],
      [`transformer.layers.${l}.norm1.alpha`, [1, 1, 4096]],
      [`transformer.layers.${l}.norm2.alpha`, [1, 1, 4096]],
      [`transformer.layers.${l}.gating.linear_in.weight`, [22528, 4096]],
      [`transformer.layers.${l}.gating.linear_out.weight`, [4096, 11264]],
    )
  for (let d = 0; d < 6; d++) {
    t.push(
      [`depformer.layers.${d}.self_attn.in_proj_weight`, [49152, 1024]],
      [`depformer.layers.${d}.self_attn.out_proj.weight`, [16384, 1024]],
      [`depformer.layers.${d}.norm1.alpha`, [1, 1, 1024]],
      [`depformer.layers.${d}.norm2.alpha`, [1, 1, 1024]],
    )
    for (let s = 0; s < 16; s++)
      t.push(
        [`depformer.layers.${d}.gating.${s}.linear_in.weight`, [5632, 1024]],
        [`depformer.layers.${d}.gating.${s}.linear_out.weight`, [1024, 2816]],
      )
  }
  return t
}

/** A BF16 safetensors file with a real header and a sparse (unwritten) data section. */
const writeSparseCheckpoint = (file: string, tensors: ReadonlyArray<[string, number[]]>) => {
  const header: Record<string, unknown> = {}
  let offset = 0
  for (const [name, shape] of tensors) {
    const length = shape.reduce((a, b) => a * b, 1) * 2
    header[name] = { dtype: "BF16", shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  const json = Buffer.from(JSON.stringify(header))
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(json.length))
  fs.writeFileSync(file, Buffer.concat([prefix, json]))
  fs.truncateSync(file, 8 + json.length + offset)
}
