import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { loadTextTokenizer } from "../src/tokenizer/index.ts"

/** A folder holding the real release files (for tokenizer_spm_32k_3.model). */
const modelDir = process.env.PERSONAPLEX_MODEL_DIR
const modelPath = modelDir ? path.join(modelDir, "tokenizer_spm_32k_3.model") : ""
const available = modelPath !== "" && fs.existsSync(modelPath)
if (!available)
  console.log(
    "skipping the real tokenizer test: set PERSONAPLEX_MODEL_DIR to a folder with tokenizer_spm_32k_3.model",
  )

describe.skipIf(!available)("PersonaPlex's tokenizer_spm_32k_3.model", () => {
  it("has 32000 pieces, hides the specials and round-trips a system prompt through its pieces", async () => {
    const tokenizer = await Effect.runPromise(loadTextTokenizer(modelPath))
    expect(tokenizer.vocabSize).toBe(32000)
    for (const id of [0, 1, 2, 3]) expect(tokenizer.textPiece(id)).toBe("")
    const text =
      "<system> You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way. <system>"
    const ids = [...tokenizer.encode(text)]
    expect(ids.every((id) => id >= 4 && id < 32000)).toBe(true)
    expect(ids.map((id) => tokenizer.textPiece(id)).join("")).toBe(` ${text}`)
  })
})
