// The random-weight Qwen2.5 layout (src/testing/instructGguf.ts) at a few MB, in both quantization
// mixes: llama.cpp loads it (tensor types, block layouts, the byte-level BPE vocabulary, the chat
// template), computes finite logits and generates; the real sizes are the GPU benchmark's.
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  acquireLlamaEngine,
  type InstructQuantization,
  tensorBytes,
  writeInstructGguf,
} from "../src/index.ts"

const shape = { embedding: 256, layers: 3, heads: 4, kvHeads: 2, feedForward: 512, vocab: 6000 }

describe("random Qwen2.5-layout GGUF", () => {
  for (const quantization of ["Q4_K_M", "Q8_0"] as const satisfies ReadonlyArray<InstructQuantization>)
    it(`${quantization}: loads in node-llama-cpp, tokenizes words whole, generates exactly the tokens asked`, async () => {
      const file = path.join(process.env.TMPDIR ?? "/tmp", `qwen-${quantization}.gguf`)
      const written = writeInstructGguf(file, { model: "qwen2.5-1.5b", quantization, shape, seed: 5 })
      expect(fs.statSync(file).size).toBe(written.bytes)
      const result = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const engine = yield* acquireLlamaEngine({
              modelPath: file,
              gpu: false,
              maxThreads: 1,
              contextSize: 512,
            })
            const generation = yield* engine.generate({
              system: "You maintain the system prompt of a real-time voice assistant.",
              user: "My patient number is 48213 and I'd like Thursday at 3 pm.",
              maxTokens: 24,
              temperature: 0.8,
              seed: 2,
              untilMaxTokens: true,
            })
            return {
              generation,
              words: engine.countTokens(" the user said hello"),
              vocab: engine.model.tokens.eos,
              trainContext: engine.model.trainContextSize,
              wrapper: engine.model.fileInfo.metadata.general.architecture,
            }
          }),
        ),
      )
      expect(result.wrapper).toBe("qwen2")
      expect(result.trainContext).toBe(32768)
      // " the", " user", " said", " hello": common words are single tokens, as in the real vocabulary.
      expect(result.words).toBe(4)
      expect(result.vocab).toBe(shape.vocab - 1)
      expect(result.generation.tokens).toBe(24)
      expect(result.generation.text.length).toBeGreaterThan(0)
      fs.rmSync(file)
    })

  it("quantized tensors are whole blocks: Q4_K and Q6_K rows of 256, Q8_0 rows of 32", () => {
    expect(tensorBytes("Q4_K", [1536, 8960])).toBe((1536 / 256) * 8960 * 144)
    expect(tensorBytes("Q6_K", [1536, 256])).toBe((1536 / 256) * 256 * 210)
    expect(tensorBytes("Q8_0", [64, 2])).toBe(2 * 2 * 34)
    expect(() => tensorBytes("Q4_K", [100, 2])).toThrow(/not whole blocks of 256/)
  })
})
