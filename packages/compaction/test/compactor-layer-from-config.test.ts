import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ConfigProvider, Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { type CompactionInput, Compactor, writeTinyLlamaGguf } from "../src/index.ts"

const input: CompactionInput = {
  basePersona: "You are Maya.",
  previousPrompt: "",
  history: [{ index: 0, userText: "My name is Dan and my code is 5521.", agentText: "Thanks Dan." }],
}

const compactWithConfig = (settings: Record<string, string>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const compactor = yield* Compactor
      return yield* compactor.compact(input)
    }).pipe(
      Effect.provide(
        Compactor.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(settings)))),
      ),
    ),
  )

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compaction-config-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("Compactor.layerConfig", () => {
  it("uses the model-free layer when no model is configured", async () => {
    const result = await compactWithConfig({})
    expect(result.backend).toBe("model-free")
    expect(result.prompt).toContain("5521")
  })

  it("uses the HTTP layer when a URL is configured (and falls back when nothing listens there)", async () => {
    const result = await compactWithConfig({
      PERSONAPLEX_COMPACTOR_URL: "http://127.0.0.1:9/v1",
      PERSONAPLEX_COMPACTOR_MODEL: "m",
      PERSONAPLEX_COMPACTOR_DEADLINE: "5 seconds",
    })
    expect(result.source).toBe("fallback")
    expect(result.reason).toContain("POST http://127.0.0.1:9/v1/chat/completions")
    expect(result.prompt).toContain("5521")
  })

  it("uses the GGUF layer when a model path is configured", async () => {
    const modelPath = writeTinyLlamaGguf(path.join(dir, "tiny.gguf"), { contextLength: 512 }).path
    const result = await compactWithConfig({
      PERSONAPLEX_COMPACTOR_GGUF: modelPath,
      PERSONAPLEX_COMPACTOR_THREADS: "1",
      PERSONAPLEX_COMPACTOR_GPU: "false",
      PERSONAPLEX_COMPACTOR_CONTEXT_SIZE: "512",
      PERSONAPLEX_COMPACTOR_MAX_TOKENS: "8",
    })
    // The default instructions do not fit the tiny model's 512-token context with this tokenizer.
    expect(result.source).toBe("fallback")
    expect(result.reason).toMatch(/llama-cpp .*does not fit a 512-token context/)
  })
})
