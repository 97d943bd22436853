// The checks of `SessionSpec.shared`, run on the CPU by shared-values.test.ts and on WebGPU (live
// and graph-captured) by child/webgpu-shared-values.ts. Returns one line per check.
import { Effect } from "effect"
import { GraphBuilder, OrtSession, type SessionSpec, type TensorType } from "../src/index.ts"
import { f32, values } from "./support/floats.ts"

// The producer's output y = 3x and the consumer's input h share the pool buffer "h"; z = h + 1.
const tripler = () => {
  const g = new GraphBuilder("triple")
  g.output(g.op("Mul", [g.input("x", "float32", [2]), g.scalar(3)]), "y", "float32", [2])
  return g.toBytes()
}
const plusOne = () => {
  const g = new GraphBuilder("plus-one")
  g.output(g.op("Add", [g.input("h", "float32", [2]), g.scalar(1)]), "z", "float32", [2])
  return g.toBytes()
}
const sharing = (name: string, dims = [2], type: TensorType = "float32") => ({
  shared: [{ name, pool: "p", buffer: "h", type, dims }],
})

export const sharedValuesProgram = (options: Pick<SessionSpec, "webGpu" | "disableCpuFallback"> = {}) =>
  Effect.gen(function* () {
    const ort = yield* OrtSession
    const producer = yield* ort.open({ model: tripler(), ...sharing("y"), ...options })
    const consumer = yield* ort.open({ model: plusOne(), ...sharing("h"), ...options })
    const lines = [`names: [${producer.outputNames}] [${consumer.inputNames}]`]
    const z = (feeds = {}) => Effect.map(consumer.run(feeds), (out) => values(out.z!))
    yield* producer.run({ x: f32(1, 2) }, [])
    lines.push(`read on the device: ${yield* z()}`)
    lines.push(`fetched: ${values((yield* producer.run({ x: f32(2, 3) }, ["y"])).y!)}`)
    lines.push(`read again: ${yield* z()}`)
    lines.push(`fed from the host: ${yield* z({ h: f32(10, 20) })}`)
    lines.push(`kept: ${yield* z()}`)
    const wrongShape = yield* Effect.flip(z({ h: f32(1, 2, 3) }))
    lines.push(
      `feed of another shape: ${wrongShape.message.includes("shared input h is float32[2], the feed is float32[3]")}`,
    )
    const mismatch = yield* Effect.flip(ort.open({ model: plusOne(), ...sharing("h", [3]), ...options }))
    lines.push(
      `pool mismatch: ${mismatch.message.includes('resident pool "p" holds h as float32[2], not float32[3]')}`,
    )
    const unknown = yield* Effect.flip(ort.open({ model: plusOne(), ...sharing("nope"), ...options }))
    lines.push(
      `unknown name: ${unknown.message.includes("shared value nope is neither an input nor an output")}`,
    )
    return lines
  })

export const expectedSharedValuesLines = [
  "names: [] []",
  "read on the device: 4,7",
  "fetched: 6,9",
  "read again: 7,10",
  "fed from the host: 11,21",
  "kept: 11,21",
  "feed of another shape: true",
  "pool mismatch: true",
  "unknown name: true",
]
