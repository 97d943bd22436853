import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { loadTextTokenizer, TextTokenizer, TokenizerError } from "../src/tokenizer/index.ts"

const fixtures = path.join(import.meta.dirname, "fixtures", "tokenizer")
const modelPath = path.join(fixtures, "tiny.model")
const recorded: { encodings: Array<{ text: string; ids: number[]; pieces: string[] }> } = JSON.parse(
  fs.readFileSync(path.join(fixtures, "encodings.json"), "utf8"),
)
const exportedVocab = fs
  .readFileSync(path.join(fixtures, "tiny.vocab"), "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => line.split("\t")[0]!)

const tokenizer = await Effect.runPromise(loadTextTokenizer(modelPath))

describe("TextTokenizer on a tiny spm_train model", () => {
  it("encodes exactly as spm_encode did (ids, no BOS/EOS)", () => {
    for (const { text, ids } of recorded.encodings) expect([...tokenizer.encode(text)], text).toEqual(ids)
  })

  it("maps every id to the piece spm_export_vocab lists", () => {
    expect(tokenizer.vocabSize).toBe(exportedVocab.length)
    exportedVocab.forEach((piece, id) => {
      expect(tokenizer.idToPiece(id)).toBe(piece)
    })
  })

  it("turns ids back into the pieces spm_encode printed", () => {
    for (const { ids, pieces } of recorded.encodings)
      expect(ids.map((id) => tokenizer.idToPiece(id))).toEqual(pieces)
  })

  it("shows specials 0..3 as nothing and word boundaries as spaces", () => {
    for (const id of [0, 1, 2, 3]) expect(tokenizer.textPiece(id)).toBe("")
    const withBoundary = exportedVocab.findIndex((p, i) => i > 3 && p.startsWith("\u2581") && p.length > 1)
    expect(tokenizer.textPiece(withBoundary)).toBe(` ${exportedVocab[withBoundary]!.slice(1)}`)
    const byte = exportedVocab.indexOf("<0x0A>")
    expect(tokenizer.textPiece(byte)).toBe("<0x0A>")
  })

  it("tokenises <system> as ordinary text, not as one special piece", () => {
    const ids = [...tokenizer.encode("<system> hi <system>")]
    expect(ids.map((id) => tokenizer.idToPiece(id)).slice(0, 4)).toEqual(["\u2581", "<", "system", ">"])
  })

  it("encodes the empty string to no ids", () => {
    expect(tokenizer.encode("").length).toBe(0)
  })

  it("rejects ids outside the vocabulary", () => {
    expect(() => tokenizer.idToPiece(exportedVocab.length)).toThrow(/outside the vocabulary/)
    expect(() => tokenizer.idToPiece(-1)).toThrow(RangeError)
  })

  it("is provided as a service by TextTokenizer.layer", async () => {
    const ids = await Effect.runPromise(
      Effect.gen(function* () {
        const service = yield* TextTokenizer
        return service.encode("Hello, how are you doing today?")
      }).pipe(Effect.provide(TextTokenizer.layer(modelPath))),
    )
    expect([...ids]).toEqual(recorded.encodings[1]!.ids)
  })
})

describe("TextTokenizer errors", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"))
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  it("names a missing model file", async () => {
    const missing = path.join(tmp, "nope.model")
    const error = await Effect.runPromise(Effect.flip(loadTextTokenizer(missing)))
    expect(error).toBeInstanceOf(TokenizerError)
    expect(error.message).toBe(`SentencePiece model ${missing}: no such file`)
  })

  it("rejects a file that is not a ModelProto", async () => {
    const corrupt = path.join(tmp, "corrupt.model")
    fs.writeFileSync(corrupt, "this is plain text, not a protobuf\n")
    const error = await Effect.runPromise(Effect.flip(loadTextTokenizer(corrupt)))
    expect(error._tag).toBe("TokenizerError")
    expect(error.message).toMatch(/not a SentencePiece ModelProto/)
  })

  it("rejects a truncated model", async () => {
    const truncated = path.join(tmp, "truncated.model")
    fs.writeFileSync(truncated, fs.readFileSync(modelPath).subarray(0, 1001))
    const error = await Effect.runPromise(Effect.flip(loadTextTokenizer(truncated)))
    expect(error.message).toMatch(/not a SentencePiece ModelProto: .*(runs past|truncated)/)
  })
})
