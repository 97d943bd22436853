import * as fs from "node:fs"
import { Context, Effect, Layer } from "effect"
import sentencepiece from "sentencepiece-js"
import { TokenizerError } from "./errors.ts"
import { readVocabulary, type VocabPiece } from "./modelProto.ts"

export interface TextTokenizerShape {
  /** Number of pieces in the model (32000 for PersonaPlex). */
  readonly vocabSize: number
  /** SentencePiece ids of `text`, without BOS/EOS (upstream's `encode` defaults). */
  encode(text: string): Int32Array
  /** The raw piece string of an id, e.g. "▁Hello" or "<0x0A>". Throws a RangeError outside 0..vocabSize-1. */
  idToPiece(id: number): string
  /** What upstream shows for a generated text token: "" for the specials 0..3, else the piece with "▁" → " ". */
  textPiece(id: number): string
}

/** Ids 0..3 (EPAD, BOS, EOS, PAD in upstream's display list) are never shown as text. */
const SPECIAL_IDS = 4
const WORD_BOUNDARY = /\u2581/g

const fail = (path: string, reason: string) => new TokenizerError({ path, reason })

const readModelVocabulary = (path: string) =>
  Effect.gen(function* () {
    const bytes = yield* Effect.try({
      try: () => fs.readFileSync(path),
      catch: (cause) => {
        const code = (cause as NodeJS.ErrnoException).code
        return fail(path, code === "ENOENT" ? "no such file" : `cannot read (${(cause as Error).message})`)
      },
    })
    const pieces = yield* Effect.try({
      try: () => readVocabulary(bytes),
      catch: (cause) => fail(path, `not a SentencePiece ModelProto: ${(cause as Error).message}`),
    })
    if (pieces.length === 0)
      return yield* Effect.fail(fail(path, "not a SentencePiece ModelProto: it holds no vocabulary pieces"))
    return pieces
  })

/**
 * The emscripten runtime inside sentencepiece-js installs process-wide handlers that rethrow
 * every uncaught exception and unhandled rejection; drop the ones a load adds.
 */
const withoutProcessHandlers = async <A>(f: () => Promise<A>): Promise<A> => {
  const emitter: NodeJS.EventEmitter = process
  const events = ["uncaughtException", "unhandledRejection"]
  const before = events.map((event) => new Set(emitter.listeners(event)))
  try {
    return await f()
  } finally {
    events.forEach((event, i) => {
      for (const listener of emitter.listeners(event))
        if (!before[i]!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void)
    })
  }
}

const loadProcessor = (path: string) =>
  Effect.tryPromise({
    try: () =>
      withoutProcessHandlers(async () => {
        const processor = new sentencepiece.SentencePieceProcessor()
        await processor.load(path)
        return processor
      }),
    catch: (cause) => fail(path, `sentencepiece could not load it: ${String(cause)}`),
  })

const makeShape = (
  pieces: ReadonlyArray<VocabPiece>,
  encodeIds: (text: string) => number[],
): TextTokenizerShape => {
  const idToPiece = (id: number): string => {
    const entry = Number.isInteger(id) ? pieces[id] : undefined
    if (!entry) throw new RangeError(`text token id ${id} is outside the vocabulary 0..${pieces.length - 1}`)
    return entry.piece
  }
  return {
    vocabSize: pieces.length,
    encode: (text) => Int32Array.from(text.length === 0 ? [] : encodeIds(text)),
    idToPiece,
    textPiece: (id) => (id >= 0 && id < SPECIAL_IDS ? "" : idToPiece(id).replace(WORD_BOUNDARY, " ")),
  }
}

/** Loads a SentencePiece `.model`: the vocabulary from the proto, encoding through sentencepiece-js. */
export const loadTextTokenizer = (modelPath: string): Effect.Effect<TextTokenizerShape, TokenizerError> =>
  Effect.gen(function* () {
    const pieces = yield* readModelVocabulary(modelPath)
    const processor = yield* loadProcessor(modelPath)
    // sentencepiece-js ignores the load status: a model it rejected encodes to nothing.
    const probe = processor.encodeIds("a")
    if (probe.length === 0 || probe.some((id) => id < 0 || id >= pieces.length))
      return yield* Effect.fail(
        fail(modelPath, "sentencepiece rejected the model (encoding a probe string gave no valid ids)"),
      )
    return makeShape(pieces, (text) => processor.encodeIds(text))
  })

export class TextTokenizer extends Context.Service<TextTokenizer, TextTokenizerShape>()(
  "@personaplex/lm/TextTokenizer",
) {
  static layer(modelPath: string): Layer.Layer<TextTokenizer, TokenizerError> {
    return Layer.effect(TextTokenizer, Effect.map(loadTextTokenizer(modelPath), TextTokenizer.of))
  }
}
