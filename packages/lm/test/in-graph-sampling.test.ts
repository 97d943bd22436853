import { GraphBuilder, OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Layers } from "../src/graph/layers.ts"
import { Prng } from "../src/sampling.ts"

describe("in-graph sampling (Gumbel-max with PRNG noise)", () => {
  it("draws from softmax(logits / T) restricted to the top-k, and zero noise gives the argmax", async () => {
    const logits = Float32Array.of(1, 2, 0.5, 0, -1, 1.8)
    const [temperature, topK, draws] = [0.7, 3, 3000]
    const g = new GraphBuilder("sample")
    const L = new Layers(g, "none")
    const token = L.sample(
      g.input("logits", "float32", [1, 6]),
      g.input("noise", "float32", [6]),
      g.input("temperature", "float32", [1]),
      g.input("top_k", "int64", [1]),
    )
    g.output(token, "token", "int64", [1])
    const counts = new Array(6).fill(0)
    const greedy = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
          const run = (noise: Float32Array) =>
            Effect.map(
              session.run({
                logits: { type: "float32", dims: [1, 6], data: logits },
                noise: { type: "float32", dims: [6], data: noise },
                temperature: { type: "float32", dims: [1], data: Float32Array.of(temperature) },
                top_k: { type: "int64", dims: [1], data: BigInt64Array.of(BigInt(topK)) },
              }),
              (out) => Number((out.token!.data as BigInt64Array)[0]),
            )
          const prng = new Prng(123)
          for (let i = 0; i < draws; i++) counts[yield* run(prng.gumbel(new Float32Array(6)))]++
          return yield* run(new Float32Array(6))
        }),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(greedy).toBe(1)
    // Top-3 ids are 1, 5, 0.
    const z = [1, 5, 0].map((i) => Math.exp(logits[i]! / temperature))
    const total = z.reduce((a, b) => a + b, 0)
    const expected = [1, 5, 0].map((_, j) => z[j]! / total)
    for (const [j, id] of [1, 5, 0].entries())
      expect(Math.abs(counts[id] / draws - expected[j]!)).toBeLessThan(0.03)
    expect(counts[2] + counts[3] + counts[4]).toBe(0)
  })
})
