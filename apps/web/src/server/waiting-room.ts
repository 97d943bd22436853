import { Data, Deferred, Effect, Exit, type Scope } from "effect"

/** Every slot is taken and the waiting room is full too. */
export class WaitingRoomFull extends Data.TaggedError("WaitingRoomFull")<{
  readonly maxSessions: number
  readonly maxWaiting: number
}> {
  override get message() {
    return this.maxWaiting === 0
      ? `busy: all ${this.maxSessions} conversation slot(s) are in use, try again later`
      : `busy: all ${this.maxSessions} conversation slot(s) are in use and ${this.maxWaiting} client(s) are waiting (the most --max-waiting allows), try again later`
  }
}

/** A client waited longer than the waiting room allows. */
export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{
  readonly maxSessions: number
  readonly waitedMs: number
}> {
  override get message() {
    return `busy: waited ${(this.waitedMs / 1000).toFixed(1)} s for one of ${this.maxSessions} conversation slot(s) (--wait-timeout), try again later`
  }
}

export interface WaitingRoomOptions {
  /** Conversations at once (each its own engine session). */
  readonly maxSessions: number
  /** Clients that may wait for a slot; one more is refused at once. */
  readonly maxWaiting: number
  /** How long a client may wait before it is refused. */
  readonly waitTimeoutMs: number
}

interface Waiter {
  readonly granted: Deferred.Deferred<void>
  readonly onPosition: (position: number) => void
}

export interface WaitingRoom {
  readonly options: WaitingRoomOptions
  /**
   * Takes a conversation slot for the caller's scope (given back when it closes). When none is free
   * the caller waits in line, first come first served, and `onPosition` hears its place (1 = next)
   * whenever it changes. Interrupting a waiting caller (its client left) takes it out of the line.
   */
  readonly enter: (
    onPosition: (position: number) => void,
  ) => Effect.Effect<void, WaitingRoomFull | WaitTimedOut, Scope.Scope>
  /** Slots in use and clients waiting, now. */
  readonly status: Effect.Effect<{ readonly active: number; readonly waiting: number }>
}

/** A waiting room of `maxSessions` slots with a bounded, timed, ordered line in front of it. */
export const makeWaitingRoom = (options: WaitingRoomOptions): WaitingRoom => {
  let active = 0
  const line: Waiter[] = []
  const announce = () => {
    for (const [i, waiter] of line.entries()) waiter.onPosition(i + 1)
  }
  const release = Effect.sync(() => {
    const next = line.shift()
    if (next === undefined) {
      active--
      return
    }
    // the slot passes straight to the first in line: `active` stays
    Deferred.doneUnsafe(next.granted, Effect.void)
    announce()
  })

  const acquire = (onPosition: (position: number) => void) =>
    Effect.suspend((): Effect.Effect<void, WaitingRoomFull | WaitTimedOut> => {
      if (active < options.maxSessions && line.length === 0) {
        active++
        return Effect.void
      }
      if (line.length >= options.maxWaiting)
        return Effect.fail(
          new WaitingRoomFull({ maxSessions: options.maxSessions, maxWaiting: options.maxWaiting }),
        )
      const waiter: Waiter = { granted: Deferred.makeUnsafe<void>(), onPosition }
      line.push(waiter)
      onPosition(line.length)
      return Deferred.await(waiter.granted).pipe(
        Effect.timeoutOrElse({
          duration: options.waitTimeoutMs,
          orElse: () =>
            Effect.fail(
              new WaitTimedOut({ maxSessions: options.maxSessions, waitedMs: options.waitTimeoutMs }),
            ),
        }),
        Effect.onExit((exit) => {
          if (Exit.isSuccess(exit)) return Effect.void
          const index = line.indexOf(waiter)
          if (index >= 0) {
            line.splice(index, 1)
            announce()
            return Effect.void
          }
          // granted in the same instant as it gave up: hand the slot on
          return release
        }),
      )
    })

  return {
    options,
    enter: (onPosition) =>
      Effect.uninterruptibleMask((restore) =>
        restore(acquire(onPosition)).pipe(Effect.andThen(Effect.addFinalizer(() => release))),
      ),
    status: Effect.sync(() => ({ active, waiting: line.length })),
  }
}
