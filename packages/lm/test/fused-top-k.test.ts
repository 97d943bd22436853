import {
  type ExecutionProvider,
  GraphBuilder,
  makeRng,
  OrtSession,
  webGpuUnavailable,
} from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { kthLargest, ONE_PASS_TOPK } from "../src/fused/topK.ts"

const kthGraph = (n: number) => {
  const g = new GraphBuilder("kth")
  const kth = kthLargest(g, g.input("x", "float32", [1, 1, n]), g.input("k", "int64", [1]), n)
  g.output(kth, "kth", "float32", [1, 1, 1])
  return g
}

// On WebGPU too where there is one (a GPU, or Mesa's lavapipe), with every node on the GPU.
const noWebGpu = webGpuUnavailable()
if (noWebGpu) console.log(`kthLargest runs on the CPU only: ${noWebGpu}`)
const providers: ReadonlyArray<ExecutionProvider> = noWebGpu ? ["cpu"] : ["cpu", "webgpu"]

describe("kthLargest", () => {
  // A vocabulary of 32,000 ranks in two levels of 16 rows; 5,000 needs padding; 2,048 ranks in one.
  it.each([32_000, 5_000, ONE_PASS_TOPK].flatMap((n) => providers.map((provider) => ({ n, provider }))))(
    "gives the k-th largest of $n values on $provider, ties included",
    async ({ n, provider }) => {
      const rng = makeRng(n)
      // Coarse values so that many tie, and the largest crowd into one row.
      const x = Float32Array.from({ length: n }, (_, i) => Math.round(rng() * 200) + (i < 300 ? 150 : 0))
      const sorted = [...x].sort((a, b) => b - a)
      const got = await Effect.runPromise(
        Effect.gen(function* () {
          const session = yield* (yield* OrtSession).open({
            model: kthGraph(n).toBytes(),
            executionProviders: [provider],
            disableCpuFallback: provider !== "cpu",
          })
          const kth = (k: number) =>
            Effect.map(
              session.run({
                x: { type: "float32", dims: [1, 1, n], data: x },
                k: { type: "int64", dims: [1], data: BigInt64Array.of(BigInt(k)) },
              }),
              (out) => (out.kth!.data as Float32Array)[0]!,
            )
          return [yield* kth(1), yield* kth(25), yield* kth(250)]
        }).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: [provider] }))),
      )
      expect(got).toEqual([sorted[0], sorted[24], sorted[249]])
    },
  )

  it("ranks a long axis with two TopKs of at most 2048 values each, a short one with one", () => {
    const topKs = (n: number) =>
      (kthGraph(n) as unknown as { nodes: Array<{ opType?: string }> }).nodes.filter(
        (node) => node.opType === "TopK",
      ).length
    expect([topKs(32_000), topKs(ONE_PASS_TOPK)]).toEqual([2, 1])
  })
})
