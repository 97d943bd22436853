import { assert, describe, it } from "@effect/vitest"
import type { LmBatchShape, LmSession } from "@personaplex/lm"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import { type FrameScheduler, makeFrameScheduler, makeScheduledInput } from "../src/server/frame-scheduler.ts"
import { FRAME_SIZE } from "../src/server/opus-ogg.ts"

/** A batch whose tick runs the members' frames together and counts them (no model). */
const countingBatch = () => {
  const ticks: number[] = []
  const batch = {
    maxRows: 4,
    rows: Effect.succeed(4),
    live: Effect.succeed(3),
    counts: Effect.sync(() => ({ runs: ticks.length, steps: ticks.reduce((a, b) => a + b, 0) })),
    tick: (frames: ReadonlyArray<{ readonly frame: Effect.Effect<unknown> }>) =>
      Effect.sync(() => ticks.push(frames.length)).pipe(
        Effect.andThen(
          Effect.all(
            frames.map((f) => f.frame),
            { concurrency: "unbounded" },
          ),
        ),
      ),
  } as unknown as LmBatchShape
  return { batch, ticks }
}

const frameOf = (marker: number) => new Float32Array(FRAME_SIZE).fill(marker)

/** A conversation on the clock whose loop, like the real one, processes every frame it reads. */
const onClock = (scheduler: FrameScheduler) =>
  Effect.gen(function* () {
    const input = yield* makeScheduledInput({} as LmSession, 25)
    yield* scheduler.add(input.member)
    return input
  })

const conversation = (scheduler: FrameScheduler) =>
  Effect.gen(function* () {
    const input = yield* onClock(scheduler)
    const heard: number[] = []
    yield* Effect.forkScoped(
      Stream.runForEach(input.source, (pcm) =>
        Effect.sync(() => heard.push(pcm[0]!)).pipe(Effect.andThen(input.processed)),
      ),
    )
    return { input, heard }
  })

describe("the frame clock over one batch", () => {
  it.effect(
    "a client whose audio is late gets silence for that tick; the others' frames go on, one a tick",
    () =>
      Effect.gen(function* () {
        const { batch, ticks } = countingBatch()
        const scheduler = yield* makeFrameScheduler(batch)
        const a = yield* conversation(scheduler)
        const b = yield* conversation(scheduler)
        // the clock's first tick (time 0) finds no one talking yet
        yield* TestClock.adjust("40 millis")
        yield* b.input.push(frameOf(0.5))
        for (let t = 1; t <= 5; t++) {
          yield* a.input.push(frameOf(t))
          yield* TestClock.adjust("80 millis")
        }
        assert.deepStrictEqual(a.heard.slice(0, 5), [1, 2, 3, 4, 5])
        assert.deepStrictEqual(b.heard.slice(0, 5), [0.5, 0, 0, 0, 0])
        assert.strictEqual(yield* a.input.lateInput, 0)
        assert.isAtLeast(yield* b.input.lateInput, 4)
        assert.isTrue(ticks.slice(0, 5).every((n) => n === 2))
        const status = yield* scheduler.status
        assert.strictEqual(status.ticking, 2)
        assert.isAtLeast(status.ticks, 5)
        assert.strictEqual(status.lateTicks, 0)
        assert.strictEqual(status.headroomMs, 80 - status.tickMs.p99)
      }).pipe(Effect.scoped),
  )

  it.effect(
    "a conversation with no audio yet is left out; one that ended or reads without processing holds no tick",
    () =>
      Effect.gen(function* () {
        const { batch, ticks } = countingBatch()
        const scheduler = yield* makeFrameScheduler(batch)
        // the clock's first tick (time 0) finds no one talking yet
        yield* TestClock.adjust("40 millis")
        const a = yield* conversation(scheduler)
        yield* conversation(scheduler)
        // between windows the loop reads its input and drops it: it asks for the next frame at once
        const dropping = yield* onClock(scheduler)
        yield* Effect.forkScoped(Stream.runDrain(dropping.source))
        yield* dropping.push(frameOf(9))
        // a loop that ended (its session not closed yet)
        const ended = yield* onClock(scheduler)
        yield* ended.push(frameOf(7))
        yield* ended.end
        for (let t = 1; t <= 4; t++) {
          yield* a.input.push(frameOf(t))
          yield* TestClock.adjust("80 millis")
        }
        assert.deepStrictEqual(a.heard.slice(0, 4), [1, 2, 3, 4])
        // a, the dropping loop and the ended one: the silent newcomer never joined a tick
        assert.isTrue(ticks.slice(0, 4).every((n) => n === 3))
        assert.strictEqual((yield* scheduler.status).ticking, 3)
      }).pipe(Effect.scoped),
  )
})
