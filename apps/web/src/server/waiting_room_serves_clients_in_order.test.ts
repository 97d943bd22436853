import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { makeWaitingRoom } from "./waiting-room.ts"

const options = { maxSessions: 1, maxWaiting: 2, waitTimeoutMs: 10_000 }

describe("the waiting room", () => {
  it.effect(
    "gives a freed slot to the first in line, tells each waiter its place, and refuses past --max-waiting",
    () =>
      Effect.gen(function* () {
        const room = makeWaitingRoom(options)
        const places: Record<string, number[]> = { x: [], b: [], c: [] }
        const enterInto = (scope: Scope.Scope, name: string) =>
          room.enter((p) => places[name]!.push(p)).pipe(Scope.provide(scope), Effect.forkChild)
        const first = yield* Scope.make()
        yield* room.enter(() => assert.fail("the first client never waits")).pipe(Scope.provide(first))
        const x = yield* enterInto(yield* Scope.make(), "x")
        yield* Effect.yieldNow
        const bScope = yield* Scope.make()
        const b = yield* enterInto(bScope, "b")
        yield* Effect.yieldNow
        assert.deepStrictEqual(yield* room.status, { active: 1, waiting: 2 })
        // one more: the line is full (--max-waiting 2)
        const refused = yield* Effect.flip(room.enter(() => {}).pipe(Effect.scoped))
        assert.strictEqual(refused._tag, "WaitingRoomFull")
        assert.strictEqual(
          refused.message,
          "busy: all 1 conversation slot(s) are in use and 2 client(s) are waiting (the most --max-waiting allows), try again later",
        )
        // a waiter that leaves (its client closed the socket) leaves the line
        yield* Fiber.interrupt(x)
        assert.deepStrictEqual(yield* room.status, { active: 1, waiting: 1 })
        const cScope = yield* Scope.make()
        const c = yield* enterInto(cScope, "c")
        yield* Effect.yieldNow

        yield* Scope.close(first, Exit.void)
        yield* Fiber.join(b)
        assert.deepStrictEqual(yield* room.status, { active: 1, waiting: 1 })
        yield* Scope.close(bScope, Exit.void)
        yield* Fiber.join(c)
        assert.deepStrictEqual(places, { x: [1], b: [2, 1], c: [2, 1] })
        yield* Scope.close(cScope, Exit.void)
        assert.deepStrictEqual(yield* room.status, { active: 0, waiting: 0 })
      }),
  )

  it.effect("refuses a client that waited past --wait-timeout and takes it out of the line", () =>
    Effect.gen(function* () {
      const room = makeWaitingRoom(options)
      const holder = yield* Scope.make()
      yield* room.enter(() => {}).pipe(Scope.provide(holder))
      const waiting = yield* room.enter(() => {}).pipe(Effect.scoped, Effect.forkChild)
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(yield* room.status, { active: 1, waiting: 1 })
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.toString() : ""
      assert.include(
        error,
        "busy: waited 10.0 s for one of 1 conversation slot(s) (--wait-timeout), try again later",
      )
      assert.deepStrictEqual(yield* room.status, { active: 1, waiting: 0 })
      yield* Scope.close(holder, Exit.void)
      assert.deepStrictEqual(yield* room.status, { active: 0, waiting: 0 })
    }),
  )
})
