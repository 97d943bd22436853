import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { lmCheckpointTensors } from "@personaplex/lm"
import { GraphBuilder, OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { BENCH_MODELS, convertWeights, openGpuLm, writeRandomBf16Checkpoint } from "../src/index.ts"

// Dawn looks for a runtime dir; a software Vulkan driver (Mesa's lavapipe, Mesa 25 or newer) is
// enough for these checks, which are about what the provider computes, not how fast.
process.env.XDG_RUNTIME_DIR ??= os.tmpdir()

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-webgpu-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Why the WebGPU provider cannot run here, or undefined when it can (checked in the worker thread). */
const webgpuUnavailable = Effect.gen(function* () {
  const g = new GraphBuilder("probe", 18)
  g.output(g.op("Mul", [g.input("x", "float32", [1]), g.scalar(2)]), "y", "float32", [1])
  const opened = yield* Effect.result(
    (yield* OrtSession).open({
      model: g.toBytes(),
      executionProviders: ["webgpu"],
      disableCpuFallback: true,
    }),
  )
  return opened._tag === "Success" ? undefined : opened.failure.message.split("\n")[0]
})

describe("the GPU step graph on the WebGPU provider", () => {
  it("samples the CPU provider's greedy tokens with the KV cache written in place on the device (gqa)", async (context) => {
    const config = BENCH_MODELS.tiny.lm
    const checkpoint = path.join(dir, "lm.safetensors")
    writeRandomBf16Checkpoint(checkpoint, lmCheckpointTensors(config))
    const weights = await convertWeights({
      checkpoint,
      config,
      precision: "int8",
      depformerSteps: 8,
      outDir: dir,
      workers: 0,
    })
    const rows = Array.from({ length: 10 }, (_, t) =>
      Int32Array.from({ length: 17 }, (_, k) =>
        k === 0 ? (t * 37) % config.textCard : (t * 13 + k * 7) % config.card,
      ),
    )
    const tokens = await Effect.runPromise(
      Effect.gen(function* () {
        const unavailable = yield* webgpuUnavailable
        if (unavailable) return unavailable
        const seen: string[][] = []
        for (const provider of ["cpu", "webgpu"] as const) {
          const lm = yield* openGpuLm({
            config,
            context: 32,
            layout: weights.layout,
            weightsFile: weights.weightsFile,
            provider,
            greedy: true,
            attention: ["gqa"],
            allowCpuFallback: false,
          })
          expect(lm.opened).toMatchObject({ attention: "gqa", cpuFallbackAllowed: false })
          yield* lm.prefill(rows.slice(0, 4))
          const out: string[] = []
          for (const row of rows.slice(4)) {
            const step = yield* lm.step(row)
            out.push(`${step.textToken}:${[...step.audioTokens].join(",")}`)
          }
          seen.push(out)
        }
        return seen
      }).pipe(
        Effect.scoped,
        Effect.provide(OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: 2 })),
      ),
    )
    if (typeof tokens === "string") {
      console.log(`skipped: no WebGPU adapter here (${tokens})`)
      return context.skip()
    }
    expect(new Set(tokens[0]).size).toBe(6)
    expect(tokens[1]).toEqual(tokens[0])
  })
})
