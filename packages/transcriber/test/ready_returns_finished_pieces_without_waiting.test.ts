import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { makeTranscriber, TranscriptionError, type Utterance } from "../src/index.ts"
import { framesOf, twoUtterances } from "./support.ts"

/** A recognizer whose answers the test releases one by one (it is asked one utterance at a time). */
const controlled = () => {
  const waiting: Array<{ utterance: Utterance; answer: (text: string) => void; fail: (e: Error) => void }> =
    []
  const recognize = (utterance: Utterance) =>
    new Promise<string>((answer, fail) => waiting.push({ utterance, answer, fail }))
  return { waiting, recognize }
}

const settle = () => Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("Transcriber.ready and flush over a recognizer", () => {
  it("ready returns only recognized pieces, in order, and never ends the utterance in progress", async () => {
    const r = controlled()
    const t = makeTranscriber({ family: "test", model: "controlled" }, r.recognize)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        for (const frame of twoUtterances().slice(0, -3)) yield* t.hear(frame)
        yield* settle()
        const before = yield* t.ready
        r.waiting[0]!.answer("first")
        yield* settle()
        const afterFirst = yield* t.ready
        const again = yield* t.ready
        // The second utterance is only now ended (the last quiet frames were never heard).
        const flushing = yield* Effect.forkChild(t.flush)
        yield* settle()
        r.waiting[1]!.answer("second")
        const flushed = yield* Fiber.join(flushing)
        return { before, afterFirst, again, flushed, asked: r.waiting.length }
      }),
    )
    expect(result.before).toEqual([])
    expect(result.afterFirst).toEqual([{ text: "first", startMs: 640, endMs: 2080 }])
    expect(result.again).toEqual([])
    expect(result.flushed.map((p) => p.text)).toEqual(["second"])
    expect(result.asked).toBe(2)
  })

  it("a failed utterance is one TranscriptionError; the pieces after it come with the next flush", async () => {
    const r = controlled()
    const t = makeTranscriber({ family: "test", model: "controlled" }, r.recognize)
    const [error, next] = await Effect.runPromise(
      Effect.gen(function* () {
        for (const frame of twoUtterances()) yield* t.hear(frame)
        yield* settle()
        r.waiting[0]!.fail(new Error("worker died"))
        yield* settle()
        r.waiting[1]!.answer("still here")
        yield* settle()
        const error = yield* Effect.flip(t.flush)
        return [error, yield* t.flush] as const
      }),
    )
    expect(error).toBeInstanceOf(TranscriptionError)
    expect(error.message).toBe("transcription of 640-2080 ms failed: worker died")
    expect(next.map((p) => p.text)).toEqual(["still here"])
  })

  it("drops pieces whose text is empty", async () => {
    const t = makeTranscriber({ family: "test", model: "silent" }, async () => "")
    const pieces = await Effect.runPromise(
      Effect.gen(function* () {
        for (const frame of framesOf([[true, 800]])) yield* t.hear(frame)
        return yield* t.flush
      }),
    )
    expect(pieces).toEqual([])
  })
})
