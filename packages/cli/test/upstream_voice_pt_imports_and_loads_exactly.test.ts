import * as fs from "node:fs"
import * as path from "node:path"
import { loadVoicePrompt } from "@personaplex/lm"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { loadVoice } from "@personaplex/stack"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { built, readReport, runArgs, runBin, smokeModels, tempDir, writeSmokeConfig } from "./support.ts"

/** `voice.pt` saved by upstream PersonaPlex under PyTorch on a GPU, and the values torch read back from it. */
const fixtures = path.join(path.dirname(upstreamFixturesDir()), "torch-voice")
const available = fs.existsSync(path.join(fixtures, "voice.pt"))
if (!available) console.log(`skipping the upstream .pt voice tests: no ${fixtures}/voice.pt`)

const torchValues = () => {
  const file = Checkpoint.openSync(path.join(fixtures, "voice-values.safetensors"))
  try {
    const embeddings = file.float32Sync("embeddings").data
    const cache = [...(file.readSync("cache").data as BigInt64Array)].map(Number)
    return { embeddings, cache }
  } finally {
    file.close()
  }
}
const sameFloats = (a: Float32Array, b: Float32Array) =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

describe.skipIf(!available)("a voice .pt saved by upstream itself", () => {
  it("--voice voice.pt gives the loop exactly torch's embeddings and token cache", async () => {
    const voice = await Effect.runPromise(loadVoice(path.join(fixtures, "voice.pt")))
    expect(voice._tag).toBe("Cached")
    if (voice._tag !== "Cached") return
    const expected = torchValues()
    expect(voice.frames).toBe(62)
    expect(sameFloats(voice.embeddings, expected.embeddings)).toBe(true)
    expect([...voice.cache]).toEqual(expected.cache)
  })

  it.skipIf(!built)(
    "`personaplex voice import voice.pt` writes a voice cache holding the same values",
    async () => {
      const cwd = tempDir("cli-voice-import-")
      fs.copyFileSync(path.join(fixtures, "voice.pt"), path.join(cwd, "voice.pt"))
      const run = runBin(["voice", "import", "voice.pt"], cwd)
      expect(run.status, run.all).toBe(0)
      const out = path.join(cwd, "voice.voice.safetensors")
      expect(run.stdout).toContain(`voice cache written: ${out} (62 frames × 4096)`)
      const cached = await Effect.runPromise(loadVoicePrompt(out))
      const expected = torchValues()
      if (cached._tag !== "Cached") throw new Error(`expected a cached voice, got ${cached._tag}`)
      expect(sameFloats(cached.embeddings, expected.embeddings)).toBe(true)
      expect([...cached.cache]).toEqual(expected.cache)
    },
  )

  it.skipIf(!built)(
    "--voice voice.pt with an LM of another width (the smoke models) names both widths, not a value count",
    () => {
      const cwd = tempDir("cli-voice-width-")
      writeSmokeConfig(cwd, smokeModels())
      const run = runBin(runArgs("o.wav", ["--voice", path.join(fixtures, "voice.pt")]), cwd)
      expect(run.status).toBe(1)
      expect(run.stderr).toContain(
        "62 frames of 4096 values (a voice made for an LM of width 4096); this LM's width is 64",
      )
      expect(readReport(path.join(cwd, "o.report.json")).status).toBe("failed")
    },
    120_000,
  )
})
