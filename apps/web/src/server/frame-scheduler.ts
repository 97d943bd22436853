import type { LmBatchShape, LmSession } from "@personaplex/lm"
import { summarize } from "@personaplex/loop"
import { Clock, Deferred, Effect, Queue, type Scope, Stream } from "effect"
import { FRAME_SIZE } from "./opus-ogg.ts"

/** One tick every frame: a frame is 80 ms of audio. */
export const TICK_MS = 80

/** How many of the last ticks the tick-time figures cover (750 = one minute). */
const RECENT_TICKS = 750

/** A conversation the scheduler drives: its slot of the batch and its part of each tick. */
export interface TickMember {
  readonly session: LmSession
  /** Whether it takes part in ticks yet (its client's first audio has arrived). */
  readonly ready: () => boolean
  /** Its part of one tick: hands its loop the tick's input frame; done when the loop is done with it. */
  readonly frame: Effect.Effect<void>
}

/** `/api/health`'s figures of the batched LM step (`--max-sessions` above 1). */
export interface BatchStatus {
  /** Rows of the batched graph: the most conversations it steps at once. */
  readonly rows: number
  /** Conversations holding a row (prompting or talking). */
  readonly live: number
  /** Conversations in the last tick (talking: their first audio has arrived). */
  readonly ticking: number
  readonly ticks: number
  /** Ticks that took longer than a frame (every conversation of them fell behind real time). */
  readonly lateTicks: number
  /** Tick wall time (every live conversation's encode, the one batched LM step, the decodes) over the last minute. */
  readonly tickMs: {
    readonly count: number
    readonly p50: number
    readonly p99: number
    readonly max: number
  }
  /** 80 ms minus the tick p99: what the last minute's slowest ticks left of a frame (negative: behind). */
  readonly headroomMs: number
  /** Rows no conversation holds: further conversations that can join now. */
  readonly freeRows: number
  /** Runs of the batched LM step so far, and the conversations' steps they ran (steps / runs: rows per run). */
  readonly lmRuns: number
  readonly lmSteps: number
}

export interface FrameScheduler {
  /** Drives `member` from the next tick on, until the caller's scope closes. */
  readonly add: (member: TickMember) => Effect.Effect<void, never, Scope.Scope>
  readonly status: Effect.Effect<BatchStatus>
}

const round1 = (x: number) => Math.round(x * 10) / 10

/**
 * The server's frame clock over one `LmBatch`: every 80 ms ONE tick runs every talking
 * conversation's frame (encode → its LM step → decode), their LM steps gathered into one run of the
 * batched graph (`LmBatch.tick`). A tick that overruns the frame is followed at once by the next (the
 * schedule moves; no burst to catch up). Runs until the caller's scope closes.
 */
export const makeFrameScheduler = (batch: LmBatchShape): Effect.Effect<FrameScheduler, never, Scope.Scope> =>
  Effect.gen(function* () {
    const members = new Set<TickMember>()
    const recent: number[] = []
    let ticks = 0
    let lateTicks = 0
    let ticking = 0
    const nowMs = Effect.map(Clock.currentTimeNanos, (n) => Number(n) / 1e6)

    const tick = Effect.gen(function* () {
      const now = [...members].filter((m) => m.ready())
      ticking = now.length
      if (now.length === 0) return
      const start = yield* nowMs
      yield* batch.tick(now.map((m) => ({ session: m.session, frame: m.frame })))
      const ms = (yield* nowMs) - start
      ticks++
      if (ms > TICK_MS) lateTicks++
      recent.push(ms)
      if (recent.length > RECENT_TICKS) recent.shift()
    })

    yield* Effect.forkScoped(
      Effect.gen(function* () {
        let next = yield* Clock.currentTimeMillis
        while (true) {
          // a tick that dies must not stop the clock: every other conversation would stall with it
          yield* tick.pipe(Effect.catchCause((cause) => Effect.logError("frame clock: a tick failed", cause)))
          next += TICK_MS
          const now = yield* Clock.currentTimeMillis
          if (next > now) yield* Effect.sleep(next - now)
          else next = now
        }
      }),
    )

    const status = Effect.gen(function* () {
      const tickMs = summarize(recent)
      const rows = yield* batch.rows
      const live = yield* batch.live
      const counts = yield* batch.counts
      return {
        rows,
        live,
        ticking,
        ticks,
        lateTicks,
        tickMs: {
          count: tickMs.count,
          p50: round1(tickMs.p50Ms),
          p99: round1(tickMs.p99Ms),
          max: round1(tickMs.maxMs),
        },
        headroomMs: round1(TICK_MS - tickMs.p99Ms),
        freeRows: Math.max(0, batch.maxRows - live),
        lmRuns: counts.runs,
        lmSteps: counts.steps,
      } satisfies BatchStatus
    })

    return {
      add: (member) =>
        Effect.acquireRelease(
          Effect.sync(() => members.add(member)),
          () => Effect.sync(() => members.delete(member)),
        ).pipe(Effect.asVoid),
      status,
    } satisfies FrameScheduler
  })

/**
 * A conversation's input on the frame clock. The client's frames wait in a buffer (the oldest dropped
 * beyond `capacity`); each tick hands the loop one of them, or silence when none has come (a late
 * frame: the batch never waits for a client). The tick's part is done when the loop has processed
 * the frame (`processed`), or has asked for the next one without stepping (between windows it drops
 * its input), or has ended.
 */
export const makeScheduledInput = (session: LmSession, capacity: number) =>
  Effect.gen(function* () {
    const inbox: Float32Array[] = []
    const feed = yield* Queue.unbounded<{
      readonly pcm: Float32Array
      readonly done: Deferred.Deferred<void>
    }>()
    const ended = yield* Deferred.make<void>()
    let started = false
    let dropped = 0
    let late = 0
    /** The frame the loop holds now: its tick part ends once the loop is done with it. */
    let held: Deferred.Deferred<void> | undefined
    const release = () => {
      if (held !== undefined) Deferred.doneUnsafe(held, Effect.void)
      held = undefined
    }

    const member: TickMember = {
      session,
      ready: () => started,
      frame: Effect.suspend(() => {
        let pcm = inbox.shift()
        if (pcm === undefined) {
          late++
          pcm = new Float32Array(FRAME_SIZE)
        }
        const done = Deferred.makeUnsafe<void>()
        Queue.offerUnsafe(feed, { pcm, done })
        return Effect.raceFirst(Deferred.await(done), Deferred.await(ended))
      }),
    }

    return {
      member,
      /** A frame of the client's audio: waits for its tick. */
      push: (pcm: Float32Array) =>
        Effect.sync(() => {
          started = true
          if (inbox.length >= capacity) {
            inbox.shift()
            dropped++
          }
          inbox.push(pcm)
        }),
      /** What the loop reads: one frame per tick. */
      source: Stream.fromEffectRepeat(
        Effect.suspend(() => {
          release()
          return Effect.map(Queue.take(feed), (item) => {
            held = item.done
            return item.pcm
          })
        }),
      ),
      /** The loop has processed the frame it holds. */
      processed: Effect.sync(release),
      /** The loop has ended: no tick waits for it any more. */
      end: Effect.sync(() => {
        release()
        Deferred.doneUnsafe(ended, Effect.void)
      }),
      dropped: Effect.sync(() => dropped),
      /** Ticks that found no frame of the client's and gave the loop silence. */
      lateInput: Effect.sync(() => late),
    }
  })
