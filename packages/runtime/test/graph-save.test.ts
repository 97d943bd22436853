import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { type Feeds, GraphBuilder, OrtSession, type OrtTensor, writeSafetensors } from "../src/index.ts"

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

const runModel = (model: string | Uint8Array, feeds: Feeds) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model })
        return yield* session.run(feeds)
      }) as Effect.Effect<Record<string, OrtTensor>, unknown, OrtSession | Scope.Scope>,
    ).pipe(Effect.provide(OrtSession.layerCpu)),
  )

/** `y = x * w` with `w` read in place from `weights` (an F32 tensor named "w" of 4 values). */
const scaleGraph = (weights: string) => {
  const header = Number(fs.readFileSync(weights).readBigUInt64LE(0))
  const g = new GraphBuilder("scale")
  const x = g.input("x", "float32", [4])
  const w = g.externalInitializer("w", {
    type: "float32",
    dims: [4],
    file: weights,
    offset: 8 + header,
    length: 16,
  })
  g.output(g.op("Mul", [x, w]), "y", "float32")
  return g
}

const weightsIn = (dir: string, name = "w.safetensors", values = [1, 2, 3, 4]) => {
  const file = path.join(dir, name)
  writeSafetensors(file, [{ name: "w", dtype: "F32", shape: [4], data: Float32Array.from(values) }])
  return file
}

const x = { x: { type: "float32" as const, dims: [4], data: Float32Array.from([1, 1, 1, 1]) } }

describe("GraphBuilder.save and onnxruntime's external-data folder rule", () => {
  it("weights outside the model's folder are hard-linked into it and load", async () => {
    const weights = weightsIn(tmp("weights-"))
    const modelDir = tmp("model-")
    const model = scaleGraph(weights).save(path.join(modelDir, "scale.onnx"))
    const linked = path.join(modelDir, "w.safetensors")
    expect(fs.statSync(linked).ino).toBe(fs.statSync(weights).ino)
    const out = await runModel(model, x)
    expect([...(out.y!.data as Float32Array)]).toEqual([1, 2, 3, 4])
  })

  it("a different file of the same name in the model's folder is left alone; the link gets an inode-named alias", async () => {
    const weights = weightsIn(tmp("weights-"), "w.safetensors", [5, 6, 7, 8])
    const modelDir = tmp("model-")
    weightsIn(modelDir, "w.safetensors", [0, 0, 0, 0])
    const model = scaleGraph(weights).save(path.join(modelDir, "scale.onnx"))
    const out = await runModel(model, x)
    expect([...(out.y!.data as Float32Array)]).toEqual([5, 6, 7, 8])
    expect(fs.readdirSync(modelDir).some((f) => /^\d+-\d+-w\.safetensors$/.test(f))).toBe(true)
  })

  it("with linkExternalFiles false, weights outside the model's folder are a GraphBuildError naming both", () => {
    const weights = weightsIn(tmp("weights-"))
    const modelDir = tmp("model-")
    expect(() =>
      scaleGraph(weights).save(path.join(modelDir, "scale.onnx"), { linkExternalFiles: false }),
    ).toThrow(/external initializer "w": .*w\.safetensors lies outside the model's folder .*model-/)
  })

  it("writes no .data file when every initializer stays inline, and removes a stale one", async () => {
    const dir = tmp("small-")
    const modelPath = path.join(dir, "small.onnx")
    fs.writeFileSync(`${modelPath}.data`, "stale")
    const g = new GraphBuilder("small")
    g.output(
      g.op("Add", [g.input("x", "float32", [4]), g.constant("float32", [4], [1, 2, 3, 4])]),
      "y",
      "float32",
    )
    g.save(modelPath)
    expect(fs.existsSync(`${modelPath}.data`)).toBe(false)
    const out = await runModel(modelPath, x)
    expect([...(out.y!.data as Float32Array)]).toEqual([2, 3, 4, 5])
  })

  it("a graph whose inline initializers pass the 2 GB protobuf limit is refused before anything is written", () => {
    const g = new GraphBuilder("huge")
    const size = 2 ** 31
    // Zero-filled and never touched: the pages are not actually allocated.
    g.initializer("big", { type: "uint8", dims: [size], data: new Uint8Array(size) })
    g.output(g.op("Identity", ["big"]), "y", "uint8")
    expect(() => g.toBytes()).toThrow(
      /graph "huge" holds 2147483648 bytes of initializers, over the 2 GB protobuf limit/,
    )
    const dir = tmp("huge-")
    expect(() =>
      g.save(path.join(dir, "huge.onnx"), { externalThreshold: Number.POSITIVE_INFINITY }),
    ).toThrow(/would stay inside the model, over the 2 GB protobuf limit: lower externalThreshold/)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

describe("GraphBuilder constants", () => {
  it("float16 constants and scalars hold values, rounded to half precision; a Uint16Array is raw bits", async () => {
    const g = new GraphBuilder("half")
    const x = g.op("Cast", [g.input("x", "float32", [4])], { to: 10 })
    const scaled = g.op("Mul", [x, g.scalar(0.5, "float16")])
    const shifted = g.op("Add", [scaled, g.constant("float16", [4], [1, 2.5, -3, 1 / 3])])
    const raw = g.op("Add", [shifted, g.constant("float16", [4], Uint16Array.from([0x3c00, 0, 0, 0]))])
    g.output(g.op("Cast", [raw], { to: 1 }), "y", "float32")
    const out = await runModel(g.toBytes(), {
      x: { type: "float32", dims: [4], data: Float32Array.from([2, 4, 6, 8]) },
    })
    expect([...(out.y!.data as Float32Array)]).toEqual([3, 4.5, 0, 4 + 0.333251953125])
  })
})
