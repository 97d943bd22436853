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
  it("feeds each run's state output back, and resets, snapshots and restores it", async () => {
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
    ])
  })
})
