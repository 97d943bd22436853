import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { lmCheckpointTensors } from "../src/checkpointTensors.ts"
import { LmBatch, type LmSession } from "../src/LmBatch.ts"
import { writeRandomLmCheckpoint } from "../src/randomCheckpoint.ts"
import { tinyLmConfig } from "../src/testing.ts"
import { userCodes } from "./support/batchIsolation.ts"
import { mimiLayer } from "./support/scenario.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-prefill-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const checkpoint = path.join(dir, "random.safetensors")
writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(tinyLmConfig))

const SESSIONS = 4
/** Session s's prompt: 40 text tokens of its own and 10 silence frames, over 32 rows (two parts). */
const prompt = (session: LmSession, s: number) =>
  session.prompt({
    textTokens: Int32Array.from({ length: 40 }, (_, i) => (s * 53 + i * 17) % 900),
    silenceFrames: 10,
  })

/** Four sessions prompted `together` (all at once) or one after another, then 6 frames each. */
const converse = (together: boolean) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const batch = yield* LmBatch
        const sessions: LmSession[] = []
        for (let s = 0; s < SESSIONS; s++) sessions.push(yield* batch.join({ sampling: { seed: 10 + s } }))
        const before = (yield* batch.counts).prefills
        yield* Effect.all(
          sessions.map((session, s) => prompt(session, s)),
          together ? { concurrency: "unbounded" } : {},
        )
        const prefills = (yield* batch.counts).prefills - before
        const tokens = sessions.map((): string[] => [])
        for (let t = 0; t < 6; t++)
          yield* batch.tick(
            sessions.map((session, s) => ({
              session,
              frame: Effect.map(session.step(userCodes(t, s)), (o) => tokens[s]!.push(`${o}`)),
            })),
          )
        return { prefills, tokens }
      }),
    ).pipe(
      Effect.provide(
        Layer.mergeAll(
          LmBatch.layer({
            checkpoint,
            config: tinyLmConfig,
            maxSessions: SESSIONS,
            initialSessions: SESSIONS,
          }),
          mimiLayer(),
        ).pipe(Layer.provide(OrtSession.layer({ executionProviders: ["cpu"] }))),
      ),
    ),
  )

describe("prompts of a batch's sessions on the CPU provider", () => {
  it("sessions prompting at once share the prefill runs, and each gets the tokens it gets prompted alone", async () => {
    const apart = await converse(false)
    const together = await converse(true)
    console.log(`prefill runs: ${apart.prefills} one session after another, ${together.prefills} all at once`)
    expect(together.prefills).toBeLessThanOrEqual(apart.prefills / 2)
    expect(together.tokens).toEqual(apart.tokens)
    expect(new Set(together.tokens.map((t) => t.join())).size).toBe(SESSIONS)
  }, 120_000)
})

describe("a prompt too long for a batch's fixed cache, beside another session's", () => {
  it("fails that session's prompt with the cache's limit and leaves the other's prompt and tokens as alone", async () => {
    // 24 slots a session (`maxFrames` = context: the cache does not slide); the long prompt needs 59.
    const layer = Layer.mergeAll(
      LmBatch.layer({
        checkpoint,
        config: tinyLmConfig,
        context: 24,
        maxFrames: 24,
        maxSessions: 2,
        initialSessions: 2,
      }),
      mimiLayer(),
    ).pipe(Layer.provide(OrtSession.layer({ executionProviders: ["cpu"] })))
    const short = (session: LmSession) =>
      session.prompt({ textTokens: Int32Array.of(5, 9, 13), silenceFrames: 2 })
    const run = (withLong: boolean) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const batch = yield* LmBatch
            const a = yield* batch.join({ sampling: { seed: 1 } })
            const b = yield* batch.join({ sampling: { seed: 2 } })
            const [, long] = yield* Effect.all(
              [short(a), withLong ? Effect.result(prompt(b, 0)) : Effect.void],
              { concurrency: "unbounded" },
            )
            const tokens: string[] = []
            for (let t = 0; t < 4; t++)
              yield* batch.tick([
                { session: a, frame: Effect.map(a.step(userCodes(t, 0)), (o) => tokens.push(`${o}`)) },
              ])
            return { tokens, long }
          }),
        ).pipe(Effect.provide(layer)),
      )
    const alone = await run(false)
    const beside = await run(true)
    expect(beside.long?._tag).toBe("Failure")
    const failure = beside.long?._tag === "Failure" ? beside.long.failure : undefined
    expect(failure).toMatchObject({
      _tag: "LmRuntimeError",
      stage: "prefill",
      reason: expect.stringMatching(/24/),
    })
    expect(beside.tokens).toEqual(alone.tokens)
  }, 120_000)
})
