// The compactor's `gpu` option on a machine without llama.cpp's GPU packages (CI installs none): a GPU
// asked for by name gives the CPU and one warning line; `false` and `auto` warn about nothing.
import * as path from "node:path"
import { Effect, Logger } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { acquireLlamaEngine, type LlamaDevice, type LlamaGpu, writeTinyLlamaGguf } from "../src/index.ts"

// No Vulkan device for llama.cpp's Vulkan build either, where a developer installed it.
process.env.VK_ICD_FILENAMES = "/nonexistent/icd.json"
process.env.VK_DRIVER_FILES = "/nonexistent/icd.json"

let modelPath = ""
beforeAll(() => {
  modelPath = writeTinyLlamaGguf(path.join(process.env.TMPDIR ?? "/tmp", "gpu-fallback.gguf"), {
    seed: 3,
  }).path
})

const load = (gpu: LlamaGpu) => {
  const warnings: Array<string> = []
  const logger = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).join(" "))
    }),
  ])
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* acquireLlamaEngine({ modelPath, gpu, maxThreads: 1, contextSize: 512 })
        const generation = yield* engine.generate({
          system: "Summarize.",
          user: "The user said hello.",
          maxTokens: 8,
          temperature: 0.5,
          seed: 1,
          untilMaxTokens: true,
        })
        return { device: engine.device, tokens: generation.tokens }
      }),
    ).pipe(Effect.provide(logger)),
  ).then((result): { device: LlamaDevice; tokens: number; warnings: Array<string> } => ({
    ...result,
    warnings,
  }))
}

describe("llama.cpp GPU backends that are not there", () => {
  for (const gpu of ["vulkan", "cuda"] as const)
    it(`gpu: ${gpu} runs on the CPU after one warning line naming the backend`, async () => {
      const { device, tokens, warnings } = await load(gpu)
      expect(device.requested).toBe(gpu)
      expect(device.gpus).toEqual([])
      expect(device.gpuLayers).toBe(0)
      expect(device.fallback).toContain(gpu)
      expect(tokens).toBe(8)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(
        new RegExp(`^compaction: llama\\.cpp's ${gpu} backend .*: the compactor runs on the CPU`),
      )
      expect(warnings[0]).not.toContain("\n")
    })

  it("gpu: false and gpu: auto run on the CPU without a warning", async () => {
    for (const gpu of [false, "auto"] as const) {
      const { device, warnings, tokens } = await load(gpu)
      expect(device).toMatchObject({ requested: gpu, gpus: [], gpuLayers: 0 })
      expect(device.fallback).toBeUndefined()
      expect(warnings).toEqual([])
      expect(tokens).toBe(8)
    }
  })
})
