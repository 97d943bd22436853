import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bf16ToFloat32, Checkpoint, float32ToBf16 } from "@personaplex/runtime"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  decodeTorchVoicePrompt,
  importVoicePrompts,
  readTorchArchive,
  readTorchVoicePrompt,
  readVoicePrompt,
  TorchFormatError,
  writeVoicePromptSafetensors,
} from "../src/index.ts"
import { storedZip, torchSave, voicePromptPt } from "./helpers/torchWriter.ts"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pt-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
const frames = 5
const dim = 24

const embeddings = () => {
  const values = new Float32Array(frames * dim).map((_, i) => Math.sin(i * 0.37) * (i % 7))
  return float32ToBf16(values)
}
const cacheTokens = () =>
  BigInt64Array.from({ length: 17 * 4 }, (_, i) => BigInt(i % 5 === 0 ? -2 : (i * 97) % 2049))

describe("readTorchVoicePrompt", () => {
  it("reads back exactly what a torch.save-layout file holds", async () => {
    const bits = embeddings()
    const cache = cacheTokens()
    const file = path.join(tmp, "NATF0.pt")
    fs.writeFileSync(file, voicePromptPt("NATF0", bits, frames, dim, cache))
    const prompt = await Effect.runPromise(readTorchVoicePrompt(file))
    expect(prompt.frames).toBe(frames)
    expect(prompt.dim).toBe(dim)
    expect(prompt.embeddings).toEqual(bf16ToFloat32(bits))
    expect([...prompt.cache]).toEqual([...cache].map(Number))
  })

  it("reads a cache saved from a CUDA device (storage location cuda:0)", async () => {
    const cache = cacheTokens()
    const prompt = await Effect.runPromise(
      decodeTorchVoicePrompt(voicePromptPt("archive", embeddings(), frames, dim, cache, "cuda:0")),
    )
    expect([...prompt.cache]).toEqual([...cache].map(Number))
  })

  it("names the problem when the file is not a torch zip", async () => {
    const file = path.join(tmp, "garbage.pt")
    fs.writeFileSync(file, "not a zip at all")
    const error = await Effect.runPromise(Effect.flip(readTorchVoicePrompt(file)))
    expect(error).toBeInstanceOf(TorchFormatError)
    expect(error.message).toMatch(/garbage\.pt: not a zip archive/)
  })

  it("names a missing file", async () => {
    const error = await Effect.runPromise(Effect.flip(readTorchVoicePrompt(path.join(tmp, "absent.pt"))))
    expect(error.message).toMatch(/absent\.pt: no such file/)
  })

  it("rejects a .pt without the cache tensor", async () => {
    const bits = embeddings()
    const bytes = torchSave("archive", [
      [
        "embeddings",
        {
          storageType: "BFloat16Storage",
          storage: new Uint8Array(bits.buffer),
          elementBytes: 2,
          shape: [frames, 1, 1, dim],
        },
      ],
    ])
    const error = await Effect.runPromise(Effect.flip(decodeTorchVoicePrompt(bytes, "x.pt")))
    expect(error.message).toBe('x.pt: voice prompt has no "cache" tensor (keys: embeddings)')
  })

  it("rejects embeddings of the wrong rank", async () => {
    const bits = embeddings()
    const cache = cacheTokens()
    const bytes = torchSave("archive", [
      [
        "embeddings",
        {
          storageType: "BFloat16Storage",
          storage: new Uint8Array(bits.buffer),
          elementBytes: 2,
          shape: [frames, dim],
        },
      ],
      [
        "cache",
        {
          storageType: "LongStorage",
          storage: new Uint8Array(cache.buffer),
          elementBytes: 8,
          shape: [1, 17, 4],
        },
      ],
    ])
    const error = await Effect.runPromise(Effect.flip(decodeTorchVoicePrompt(bytes, "x.pt")))
    expect(error.message).toMatch(/"embeddings" has shape \[5,24\], expected \[frames, 1, 1, dim\]/)
  })
})

describe("readTorchArchive", () => {
  it("materialises a strided view with a storage offset", () => {
    // storage 0..11 as float32; tensor = transpose of the 3x3 block starting at element 2
    const storage = Float32Array.from({ length: 12 }, (_, i) => i)
    const bytes = torchSave("archive", [
      [
        "t",
        {
          storageType: "FloatStorage",
          storage: new Uint8Array(storage.buffer),
          elementBytes: 4,
          shape: [3, 3],
          stride: [1, 3],
          offset: 2,
        },
      ],
    ])
    const content = readTorchArchive(bytes) as Map<
      string,
      { bytes: Uint8Array; shape: number[]; dtype: string }
    >
    const t = content.get("t")!
    expect(t.dtype).toBe("float32")
    expect(t.shape).toEqual([3, 3])
    expect([...new Float32Array(t.bytes.buffer, t.bytes.byteOffset, 9)]).toEqual([2, 5, 8, 3, 6, 9, 4, 7, 10])
  })

  it("rejects a view that reaches past its storage", () => {
    const storage = new Float32Array(4)
    const bytes = torchSave("archive", [
      [
        "t",
        { storageType: "FloatStorage", storage: new Uint8Array(storage.buffer), elementBytes: 4, shape: [5] },
      ],
    ])
    expect(() => readTorchArchive(bytes)).toThrow(/reaches past its storage/)
  })

  it("refuses pickles that call anything but the tensor-rebuilding globals", () => {
    const evil = Uint8Array.from([
      0x80,
      0x02,
      ...Buffer.from("cos\nsystem\n", "latin1"),
      0x58,
      2,
      0,
      0,
      0,
      0x6c,
      0x73,
      0x85,
      0x52,
      0x2e,
    ])
    const bytes = storedZip([["archive/data.pkl", evil]])
    expect(() => readTorchArchive(bytes)).toThrow(/cannot call os\.system/)
  })
})

describe("importVoicePrompts", () => {
  it("converts a folder of .pt prompts to safetensors that read back identically", async () => {
    const source = fs.mkdtempSync(path.join(tmp, "voices-"))
    const cache = cacheTokens()
    fs.writeFileSync(path.join(source, "NATF0.pt"), voicePromptPt("NATF0", embeddings(), frames, dim, cache))
    fs.writeFileSync(
      path.join(source, "VARM4.pt"),
      voicePromptPt("VARM4", embeddings().reverse(), frames, dim, cache),
    )
    const dest = path.join(tmp, "imported")
    const imported = await Effect.runPromise(importVoicePrompts(source, dest))
    expect(imported.map((v) => [v.name, v.frames, v.dim])).toEqual([
      ["NATF0", frames, dim],
      ["VARM4", frames, dim],
    ])
    for (const voice of imported) {
      const original = await Effect.runPromise(readVoicePrompt(voice.source))
      const converted = await Effect.runPromise(readVoicePrompt(voice.path))
      expect(converted).toEqual(original)
    }
    // bf16 values are stored as BF16, exactly
    const checkpoint = Checkpoint.openSync(imported[0]!.path)
    expect(checkpoint.infoSync("embeddings").dtype).toBe("BF16")
    expect(checkpoint.metadata).toEqual({
      format: "personaplex-voice-prompt",
      version: "1",
      frames: String(frames),
      dim: String(dim),
    })
    checkpoint.close()
  })

  it("keeps F32 when the embeddings are not bfloat16 values", async () => {
    const file = path.join(tmp, "f32.safetensors")
    const prompt = {
      embeddings: Float32Array.from({ length: 2 * 3 }, (_, i) => i / 3),
      frames: 2,
      dim: 3,
      cache: new Int32Array(68).fill(7),
    }
    await Effect.runPromise(writeVoicePromptSafetensors(prompt, file))
    expect(await Effect.runPromise(readVoicePrompt(file))).toEqual(prompt)
    const checkpoint = Checkpoint.openSync(file)
    expect(checkpoint.infoSync("embeddings").dtype).toBe("F32")
    checkpoint.close()
  })

  it("fails for a folder without .pt files", async () => {
    const empty = fs.mkdtempSync(path.join(tmp, "empty-"))
    const error = await Effect.runPromise(Effect.flip(importVoicePrompts(empty, path.join(tmp, "out"))))
    expect(error.message).toMatch(/folder holds no \.pt voice prompts/)
  })
})
