import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readTorchVoicePrompt } from "../src/index.ts"

/** `voice.pt` written by upstream PersonaPlex under PyTorch (cache storage on cuda:0), with the values torch read back. */
const fixtures = path.join(path.dirname(upstreamFixturesDir()), "torch-voice")
const available = fs.existsSync(path.join(fixtures, "voice.pt"))
if (!available) console.log(`skipping the upstream .pt voice test: no ${fixtures}/voice.pt`)

describe.skipIf(!available)("a voice prompt saved by upstream PersonaPlex itself", () => {
  it("reads back exactly the embeddings and token cache torch reads from it", async () => {
    const voice = await Effect.runPromise(readTorchVoicePrompt(path.join(fixtures, "voice.pt")))
    const expected = Checkpoint.openSync(path.join(fixtures, "voice-values.safetensors"))
    try {
      const embeddings = expected.float32Sync("embeddings")
      expect(embeddings.shape).toEqual([62, 1, 1, 4096])
      expect(voice.frames).toBe(62)
      expect(voice.dim).toBe(4096)
      expect(voice.embeddings.length).toBe(embeddings.data.length)
      expect(Buffer.from(voice.embeddings.buffer).equals(Buffer.from(embeddings.data.buffer))).toBe(true)
      // int64 token ids as torch read them, every one exact (the storage came from cuda:0)
      const cache = expected.readSync("cache")
      expect(cache.shape).toEqual([1, 17, 4])
      expect([...voice.cache]).toEqual([...(cache.data as BigInt64Array)].map(Number))
    } finally {
      expected.close()
    }
  })
})
