import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { SILENCE_TOKENS, SINE_TOKENS, TEXT_PAD } from "../src/constants.ts"
import { LmGen } from "../src/LmGen.ts"

/** A folder holding the real release files (for model.safetensors, ~16 GB bf16). */
const modelDir = process.env.PERSONAPLEX_MODEL_DIR
const checkpoint = modelDir ? path.join(modelDir, "model.safetensors") : ""
const available = checkpoint !== "" && fs.existsSync(checkpoint)
if (!available)
  console.log(
    "skipping the real LM checkpoint test: set PERSONAPLEX_MODEL_DIR to a folder with model.safetensors",
  )

describe.skipIf(!available)("PersonaPlex's model.safetensors (int8, context 187)", () => {
  it("builds both graphs from the real checkpoint and steps prompts and frames with tokens in range", {
    timeout: 3_600_000,
  }, async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-real-"))
    const outputs = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const gen = yield* LmGen.make({
            checkpoint,
            context: 187,
            quantization: "int8",
            cacheDir,
            sampling: { seed: 1 },
          })
          expect(gen.config.dim).toBe(4096)
          // A short text-only prompt through the step machinery (no codec needed).
          for (const text of [TEXT_PAD, TEXT_PAD, 100, 200, TEXT_PAD])
            yield* gen.stepProvided({ user: SINE_TOKENS, agent: SILENCE_TOKENS, text })
          const out: Int32Array[] = []
          for (let t = 0; t < 4; t++) out.push((yield* gen.step(Int32Array.from(SINE_TOKENS)))!)
          return out
        }),
      ).pipe(Effect.provide(OrtSession.layer({ executionProviders: ["cpu"] }))),
    )
    fs.rmSync(cacheDir, { recursive: true, force: true })
    for (const frame of outputs) {
      expect(frame.length).toBe(17)
      expect(frame[0]).toBeGreaterThanOrEqual(0)
      expect(frame[0]).toBeLessThan(32000)
      for (let k = 1; k < 17; k++) expect(frame[k]).toBeLessThan(2048)
      expect([...frame.subarray(9)]).toEqual([...SINE_TOKENS])
    }
  })
})
