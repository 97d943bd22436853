// transformers.js for real, on a random-weight Moonshine written by the test (src/testing/tinyMoonshine.ts):
// the folder is resolved, the worker loads it on onnxruntime-node and decodes every utterance. Its text
// is noise, so these tests pin down structure: pieces, their times, determinism, reset, errors.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  Transcriber,
  TranscriberInputError,
  TranscriberModelError,
  TranscriberModelMissingError,
  type TranscriberOptions,
  writeTinyMoonshine,
} from "../src/index.ts"
import { framesOf, twoUtterances } from "./support.ts"

let dir = ""
let folder = ""

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "transcriber-moonshine-"))
  folder = writeTinyMoonshine(path.join(dir, "tiny-moonshine")).folder
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const withTranscriber = <A, E>(
  use: Effect.Effect<A, E, Transcriber>,
  options: Partial<TranscriberOptions> = {},
) =>
  Effect.runPromise(
    Effect.provide(use, Layer.fresh(Transcriber.layer({ source: { folder }, ...options }))) as Effect.Effect<
      A,
      E
    >,
  )

const hearAll = (frames: ReadonlyArray<Float32Array>) =>
  Effect.gen(function* () {
    const t = yield* Transcriber
    for (const frame of frames) yield* t.hear(frame)
  })

describe("Transcriber.layer on a tiny Moonshine", () => {
  it("gives one timed, non-empty piece per utterance, the same on a second pass after reset", async () => {
    const [first, second, info] = await withTranscriber(
      Effect.gen(function* () {
        const t = yield* Transcriber
        yield* hearAll(twoUtterances())
        const first = yield* t.flush
        yield* t.reset
        yield* hearAll(twoUtterances())
        const second = yield* t.flush
        return [first, second, t.info] as const
      }),
    )
    expect(info).toMatchObject({ family: "moonshine", model: folder, dtype: "fp32" })
    expect(first.map((p) => [p.startMs, p.endMs])).toEqual([
      [640, 2080],
      [2640, 3920],
    ])
    for (const piece of first) expect(piece.text.length).toBeGreaterThan(0)
    // Greedy decoding of the same audio: the same text; times start again at 0 after reset.
    expect(second).toEqual(first)
  })

  it("returns each piece once: a second flush with nothing new heard is empty", async () => {
    const [first, again] = await withTranscriber(
      Effect.gen(function* () {
        const t = yield* Transcriber
        yield* hearAll(twoUtterances())
        return [yield* t.flush, yield* t.flush] as const
      }),
    )
    expect(first).toHaveLength(2)
    expect(again).toEqual([])
  })

  it("flush ends the utterance still being spoken (a window switch mid-sentence)", async () => {
    const pieces = await withTranscriber(
      Effect.gen(function* () {
        const t = yield* Transcriber
        yield* hearAll(
          framesOf([
            [false, 400],
            [true, 960],
          ]),
        )
        return yield* t.flush
      }),
    )
    expect(pieces.map((p) => [p.startMs, p.endMs])).toEqual([[240, 1360]])
  })

  it("reset drops what was heard and not yet flushed", async () => {
    const pieces = await withTranscriber(
      Effect.gen(function* () {
        const t = yield* Transcriber
        yield* hearAll(twoUtterances())
        yield* t.reset
        yield* hearAll(framesOf([[false, 400]]))
        return yield* t.flush
      }),
    )
    expect(pieces).toEqual([])
  })

  it("refuses a frame that is not 1920 samples with a typed error", async () => {
    const error = await withTranscriber(
      Effect.gen(function* () {
        const t = yield* Transcriber
        return yield* Effect.flip(t.hear(new Float32Array(1600)))
      }),
    )
    expect(error).toBeInstanceOf(TranscriberInputError)
    expect(error.message).toContain("1600 samples, expected 1920")
  })
})

describe("Transcriber.layer's model folder", () => {
  const copyWithout = (file: string) => {
    const copy = path.join(dir, `without-${file.replaceAll("/", "-")}`)
    fs.cpSync(folder, copy, { recursive: true })
    fs.rmSync(path.join(copy, file))
    return copy
  }
  const loadError = (options: TranscriberOptions) =>
    Effect.runPromise(Effect.flip(Effect.scoped(Layer.build(Transcriber.layer(options)))))

  it("names the missing ONNX file", async () => {
    const error = await loadError({ source: { folder: copyWithout("onnx/decoder_model_merged.onnx") } })
    expect(error).toBeInstanceOf(TranscriberModelMissingError)
    expect(error.message).toContain("onnx/decoder_model_merged.onnx is missing from")
  })

  it("names the missing tokenizer", async () => {
    const error = await loadError({ source: { folder: copyWithout("tokenizer.json") } })
    expect(error).toMatchObject({ _tag: "TranscriberModelMissingError", file: "tokenizer.json" })
  })

  it("names the file of another dtype when only fp32 is there", async () => {
    const error = await loadError({ source: { folder }, dtype: "q8" })
    expect(error).toMatchObject({
      _tag: "TranscriberModelMissingError",
      file: "onnx/encoder_model_quantized.onnx",
    })
  })

  it("refuses a model family it does not run", async () => {
    const other = path.join(dir, "whisper-config")
    fs.cpSync(folder, other, { recursive: true })
    const config = JSON.parse(fs.readFileSync(path.join(other, "config.json"), "utf8"))
    fs.writeFileSync(path.join(other, "config.json"), JSON.stringify({ ...config, model_type: "whisper" }))
    const error = await loadError({ source: { folder: other } })
    expect(error).toBeInstanceOf(TranscriberModelError)
    expect(error.message).toContain('model_type "whisper"')
  })
})
