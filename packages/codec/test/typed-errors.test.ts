import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoint, OrtSession, upstreamFixturesDir, writeSafetensors } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { MimiCodec, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const configPath = path.join(fixtures, "mimi-tiny.json")
const available = fs.existsSync(configPath)
if (!available) console.log(`skipping Mimi error tests that need a checkpoint: no fixtures at ${fixtures}`)

const tiny = () => MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8")))
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mimi-errors-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const layerFor = (checkpoint: string) =>
  MimiCodec.layer({ checkpoint, config: tiny() }).pipe(Layer.provide(OrtSession.layerCpu))

const failureOf = <A, E>(effect: Effect.Effect<A, E, MimiCodec>, checkpoint: string) =>
  Effect.runPromise(Effect.flip(Effect.provide(effect, layerFor(checkpoint))))

/** A copy of mimi-tiny with one tensor dropped or replaced. */
const editedCheckpoint = (
  file: string,
  edit: (
    name: string,
    shape: ReadonlyArray<number>,
    data: Float32Array,
  ) => { shape: ReadonlyArray<number>; data: Float32Array } | undefined,
) => {
  const source = Checkpoint.openSync(path.join(fixtures, "mimi-tiny.safetensors"))
  try {
    const tensors = source.names.flatMap((name) => {
      const t = source.float32Sync(name)
      const edited = edit(name, t.shape, t.data)
      return edited ? [{ name, dtype: "F32" as const, shape: edited.shape, data: edited.data }] : []
    })
    const out = path.join(scratch, file)
    writeSafetensors(out, tensors)
    return out
  } finally {
    source.close()
  }
}

describe.skipIf(!available)("bad input to MimiCodec gets a typed error", () => {
  const checkpoint = path.join(fixtures, "mimi-tiny.safetensors")

  it("encode rejects a frame that is not 1920 samples", async () => {
    const error = await failureOf(
      MimiCodec.use((c) => c.encode(new Float32Array(1919))),
      checkpoint,
    )
    expect(error._tag).toBe("FrameLengthError")
    expect(error.message).toContain("1920")
    expect(error.message).toContain("1919")
  })

  it("decode rejects a wrong code count and codes outside [0, bins)", async () => {
    const count = await failureOf(
      MimiCodec.use((c) => c.decode(new Int32Array(7))),
      checkpoint,
    )
    expect(count._tag).toBe("CodeCountError")
    const high = await failureOf(
      MimiCodec.use((c) => c.decode(Int32Array.from([0, 0, 0, 2048, 0, 0, 0, 0]))),
      checkpoint,
    )
    expect(high).toMatchObject({ _tag: "CodeRangeError", codebook: 3, code: 2048, bins: 2048 })
    const negative = await failureOf(
      MimiCodec.use((c) => c.decode(Int32Array.from([-1, 0, 0, 0, 0, 0, 0, 0]))),
      checkpoint,
    )
    expect(negative).toMatchObject({ _tag: "CodeRangeError", codebook: 0, code: -1 })
  })

  it("a checkpoint missing a tensor fails with MissingTensorError naming it", async () => {
    const missing = "decoder_transformer.transformer.layers.1.linear2.weight"
    const file = editedCheckpoint("missing.safetensors", (name, shape, data) =>
      name === missing ? undefined : { shape, data },
    )
    const error = await failureOf(
      MimiCodec.use(() => Effect.void),
      file,
    )
    expect(error._tag).toBe("MissingTensorError")
    expect(error.message).toContain(missing)
  })

  it("a tensor with the wrong shape fails with TensorMismatchError naming it and both shapes", async () => {
    const wrong = "encoder.model.3.conv.conv.weight"
    const file = editedCheckpoint("shape.safetensors", (name, shape, data) =>
      name === wrong
        ? { shape: [shape[0]!, shape[1]!, 4], data: data.subarray(0, shape[0]! * shape[1]! * 4) }
        : { shape, data },
    )
    const error = await failureOf(
      MimiCodec.use(() => Effect.void),
      file,
    )
    expect(error._tag).toBe("TensorMismatchError")
    expect(error.message).toContain(wrong)
    expect(error.message).toContain("[8,4,8]")
    expect(error.message).toContain("[8,4,4]")
  })

  it("an unreadable checkpoint path fails with SafetensorsFormatError", async () => {
    const error = await failureOf(
      MimiCodec.use(() => Effect.void),
      path.join(scratch, "nope.safetensors"),
    )
    expect(error._tag).toBe("SafetensorsFormatError")
  })
})

describe("MimiConfig", () => {
  it.skipIf(!available)("reads the fixture JSON layout", () => {
    const c = tiny()
    expect(c.numCodebooks).toBe(8)
    expect(c.seanet).toMatchObject({
      dimension: 32,
      nFilters: 4,
      ratios: [8, 6, 5, 4],
      kernelSize: 7,
      lastKernelSize: 3,
      compress: 2,
    })
    expect(c.transformer).toMatchObject({
      dModel: 32,
      numHeads: 2,
      numLayers: 2,
      dimFeedforward: 64,
      context: 250,
      maxPeriod: 10000,
    })
    expect(c.quantizer).toMatchObject({ dimension: 16, nQ: 32, bins: 2048 })
  })

  it("rejects a malformed or unsupported config with the field named", () => {
    const json = { seanet: { dimension: 32 }, quantizer: {}, transformer: {} }
    expect(() => MimiConfig.fromJson(json)).toThrow(/seanet\.(ratios|channels)/)
    const personaplexJson = {
      seanet: {
        channels: 1,
        dimension: 512,
        n_filters: 64,
        n_residual_layers: 1,
        ratios: [8, 6, 5, 4],
        kernel_size: 7,
        last_kernel_size: 3,
        residual_kernel_size: 3,
        dilation_base: 2,
        compress: 2,
        norm: "weight_norm",
      },
      quantizer: { dimension: 256, n_q: 32, bins: 2048, input_dimension: 512, output_dimension: 512 },
      transformer: { d_model: 512, num_heads: 8, num_layers: 8, dim_feedforward: 2048, context: 250 },
    }
    expect(() => MimiConfig.fromJson(personaplexJson)).toThrow(/seanet\.norm/)
    const { norm: _, ...seanet } = personaplexJson.seanet
    expect(MimiConfig.fromJson({ ...personaplexJson, seanet })).toEqual(MimiConfig.personaplex)
    expect(() => MimiConfig.fromJson({ ...personaplexJson, seanet, num_codebooks: 33 })).toThrow(
      /num_codebooks/,
    )
  })
})
