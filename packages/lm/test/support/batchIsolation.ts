import type { CodecError, MimiCodec } from "@personaplex/codec"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import type { LmError } from "../../src/errors.ts"
import { LmBatch, type LmBatchOptions, type LmSession } from "../../src/LmBatch.ts"
import { LmGen, type LmGenOptions, type LmGenSnapshot } from "../../src/LmGen.ts"
import type { SamplingOptions } from "../../src/sampling.ts"
import { mimiLayer } from "./scenario.ts"

export const FRAMES = 24

/** Frame t's user codes of a conversation (`salt` tells conversations apart). */
export const userCodes = (t: number, salt: number) =>
  Int32Array.from({ length: 8 }, (_, q) => (salt * 97 + t * 31 + q * 211) % 2048)

const promptTokens = (salt: number) =>
  Int32Array.from({ length: 5 + salt }, (_, i) => (salt * 7 + i * 13) % 900)

/** One conversation: its prompt (a text of its own), then `FRAMES` frames; its output tokens, one line a frame. */
const converse = (gen: Pick<LmSession, "prompt" | "step">, salt: number) =>
  Effect.gen(function* () {
    yield* gen.prompt({ textTokens: promptTokens(salt), silenceFrames: 2 })
    const out: string[] = []
    for (let t = 0; t < FRAMES; t++) out.push(`${yield* gen.step(userCodes(t, salt))}`)
    return out
  })

/** The conversation alone: `LmGen` over the fused engine (one row). */
export const alone = (
  options: LmGenOptions,
  provider: OrtSession["Service"]["config"]["executionProviders"][0],
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* converse(yield* LmGen, 0)
    }).pipe(
      Effect.provide(
        Layer.mergeAll(LmGen.layer({ ...options, engine: "fused" }), mimiLayer()).pipe(
          Layer.provide(OrtSession.layer({ executionProviders: [provider] })),
        ),
      ),
    ),
  )

/**
 * The same conversation (session A) in a batch of `maxSessions` beside others that, frame by frame:
 * B converses with another seed and prompt; C joins at frame 2 (the graph grows from 2 rows to 4,
 * A's and B's caches moving with it), resets and prompts again at frame 6, takes a snapshot at 8,
 * sends malformed codes at frame 9, and restores the snapshot at frame 14; D joins at frame 3 and leaves at frame 11;
 * E joins at frame 12 (D's slot) and converses to the end. Returns A's tokens and B's.
 */
export const inBatch = (
  options: Omit<LmBatchOptions, "maxSessions">,
  maxSessions: number,
  provider: OrtSession["Service"]["config"]["executionProviders"][0],
  seeds: { readonly a: number; readonly b: number },
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const batch = yield* LmBatch
        const join = (sampling: Partial<SamplingOptions>) => batch.join({ sampling })
        const a = yield* join({ seed: seeds.a })
        const b = yield* join({ seed: seeds.b })
        const prompt = (s: LmSession, salt: number) =>
          s.prompt({ textTokens: promptTokens(salt), silenceFrames: 2 })
        yield* Effect.all([prompt(a, 0), prompt(b, 1)], { concurrency: "unbounded" })
        let c: LmSession | undefined
        let d: LmSession | undefined
        let e: LmSession | undefined
        let cSnapshot: LmGenSnapshot | undefined
        const outA: string[] = []
        const outB: string[] = []
        let malformed = ""
        for (let t = 0; t < FRAMES; t++) {
          // C's join grows the graph from 2 rows to 4: A's and B's caches move to the larger one.
          if (t === 2) c = yield* join({ seed: 5 })
          if (t === 3) d = yield* join({ seed: 9 })
          if (t === 12) e = yield* join({ seed: 11 })
          const cFrame = (c: LmSession) =>
            Effect.gen(function* () {
              if (t === 2) yield* prompt(c, 2)
              if (t === 6) {
                yield* c.reset
                yield* prompt(c, 3)
              }
              if (t === 8) cSnapshot = yield* c.snapshot
              if (t === 9) {
                const bad = yield* Effect.result(c.step(Int32Array.of(1, 2, 3)))
                if (bad._tag === "Failure") malformed = bad.failure._tag
              }
              if (t === 14 && cSnapshot) yield* c.restore(cSnapshot)
              yield* c.step(userCodes(t, 2))
            })
          const frames: Array<{
            session: LmSession
            frame: Effect.Effect<unknown, LmError | CodecError, MimiCodec>
          }> = [
            { session: a, frame: Effect.map(a.step(userCodes(t, 0)), (o) => outA.push(`${o}`)) },
            { session: b, frame: Effect.map(b.step(userCodes(t, 1)), (o) => outB.push(`${o}`)) },
          ]
          if (c) frames.push({ session: c, frame: cFrame(c) })
          const other = d ?? e
          if (other) {
            const salt = other === d ? 4 : 5
            const joined = t === 3 || t === 12
            frames.push({
              session: other,
              frame:
                t === 11
                  ? other.leave
                  : Effect.andThen(
                      joined ? prompt(other, salt) : Effect.void,
                      other.step(userCodes(t, salt)),
                    ),
            })
          }
          yield* batch.tick(frames)
          if (t === 11) d = undefined
        }
        return { a: outA, b: outB, malformed, rows: yield* batch.rows, counts: yield* batch.counts }
      }),
    ).pipe(
      Effect.provide(
        Layer.mergeAll(LmBatch.layer({ ...options, maxSessions }), mimiLayer()).pipe(
          Layer.provide(OrtSession.layer({ executionProviders: [provider] })),
        ),
      ),
    ),
  )
