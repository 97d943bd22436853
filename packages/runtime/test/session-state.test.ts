import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { GraphBuilder, OrtSession } from "../src/index.ts"

// acc_out = acc + x; y = 2 · acc_out: the accumulator lives in the worker between runs.
const accumulatorModel = () => {
  const g = new GraphBuilder("acc")
  const x = g.input("x", "float32", [2])
  const acc = g.input("acc", "float32", [2])
  const next = g.op("Add", [acc, x])
  g.output(next, "acc_out", "float32", [2])
  g.output(g.op("Mul", [next, g.scalar(2)]), "y", "float32", [2])
  return g.toBytes()
}

describe("session state kept in the worker", () => {
  it("feeds each run's state output back, and resets, snapshots, restores and drops it", async () => {
    const ys = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* (yield* OrtSession).open({
            model: accumulatorModel(),
            state: [{ input: "acc", output: "acc_out", type: "float32", dims: [2] }],
          })
          expect(session.inputNames).toEqual(["x"])
          expect(session.outputNames).toEqual(["y"])
          const step = (a: number, b: number) =>
            Effect.map(
              session.run({ x: { type: "float32", dims: [2], data: Float32Array.from([a, b]) } }),
              (out) => [...(out.y!.data as Float32Array)],
            )
          const seen: number[][] = []
          seen.push(yield* step(1, 10))
          yield* session.snapshotState("after-first")
          seen.push(yield* step(1, 10))
          seen.push(yield* step(1, 10))
          const state = yield* session.readState
          seen.push([...(state.acc!.data as Float32Array)])
          yield* session.restoreState("after-first")
          seen.push(yield* step(5, 5))
          yield* session.resetState
          seen.push(yield* step(1, 1))
          const missing = yield* Effect.flip(session.restoreState("never-taken"))
          expect(missing.message).toContain("never-taken")
          yield* session.dropSnapshot("after-first")
          const dropped = yield* Effect.flip(session.restoreState("after-first"))
          expect(dropped.message).toContain("after-first")
          seen.push(yield* step(1, 1))
          return seen
        }),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(ys).toEqual([
      [2, 20],
      [4, 40],
      [6, 60],
      [3, 30],
      [12, 30],
      [2, 2],
      [4, 4],
    ])
  })
})

describe("resident state shared by sessions and updated in place", () => {
  // A adds x to the pool's buffer in place; B reads it (y = 2 · acc) and writes it back unchanged.
  const adder = () => {
    const g = new GraphBuilder("add")
    const x = g.input("x", "float32", [2])
    g.output(g.op("Add", [g.input("acc", "float32", [2]), x]), "acc_out", "float32", [2])
    return g.toBytes()
  }
  const reader = () => {
    const g = new GraphBuilder("read")
    const acc = g.input("acc", "float32", [2])
    g.output(g.op("Mul", [acc, g.scalar(2)]), "y", "float32", [2])
    g.output(g.op("Mul", [acc, g.scalar(1)]), "acc_out", "float32", [2])
    return g.toBytes()
  }
  const resident = (dims: number[]) => ({
    pool: "kv",
    bindings: [{ input: "acc", output: "acc_out", type: "float32" as const, dims }],
  })

  it("keeps one buffer per binding that every session naming the pool reads and writes", async () => {
    const seen = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const ort = yield* OrtSession
          const add = yield* ort.open({ model: adder(), resident: resident([2]) })
          const read = yield* ort.open({ model: reader(), resident: resident([2]) })
          expect(add.inputNames).toEqual(["x"])
          expect(add.outputNames).toEqual([])
          expect(read.outputNames).toEqual(["y"])
          const x = (a: number, b: number) => ({
            x: { type: "float32" as const, dims: [2], data: Float32Array.of(a, b) },
          })
          const y = () => Effect.map(read.run({}), (out) => [...(out.y!.data as Float32Array)])
          const seen: number[][] = [yield* y()]
          yield* add.run(x(1, 2))
          yield* add.run(x(1, 2))
          seen.push(yield* y())
          yield* add.run(x(0.5, 0))
          seen.push(yield* y())
          const mismatch = yield* Effect.flip(ort.open({ model: adder(), resident: resident([3]) }))
          expect(mismatch.message).toContain('resident pool "kv" holds acc as float32[2], not float32[3]')
          return seen
        }),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(seen).toEqual([
      [0, 0],
      [4, 8],
      [5, 8],
    ])
  })
})
