import { OrtSession } from "@personaplex/runtime"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import type { LmEngineShape } from "./engine/LmEngine.ts"
import { type LmError, LmInputError, type LmRuntimeError } from "./errors.ts"
import { type FusedBatch, openFusedBatch } from "./fused/FusedBatch.ts"
import { LmGen, type LmGenOptions, type LmGenShape } from "./LmGen.ts"
import type { SamplingOptions } from "./sampling.ts"

/** The graph sizes a batch is built with: the smallest one that holds `maxSessions`. */
export const BATCH_SIZES = [2, 4, 8, 16, 32] as const

export interface LmBatchOptions extends Omit<LmGenOptions, "engine"> {
  /**
   * The most sessions at once (2..32): the graph starts with 2 rows and, when a join finds them all
   * taken, grows to the next of `BATCH_SIZES`, up to the smallest that holds `maxSessions`.
   */
  readonly maxSessions: number
  /**
   * Rows to open with (default 2): the smallest of `BATCH_SIZES` holding them. Where the sessions are
   * known ahead, this spares the growth steps, each of which holds two graphs' caches for a moment.
   */
  readonly initialSessions?: number
}

/**
 * A session's own sampling: seed, temperatures, greedy or not. The top-k of both heads are the
 * batch's (`LmBatchOptions.sampling`): one top-k per head for all the rows of a run.
 */
export type LmSessionSampling = Partial<Omit<SamplingOptions, "topK" | "topKText">>

export interface LmJoinOptions {
  readonly sampling?: LmSessionSampling
}

/** One conversation in the batch: `LmGen`'s operations over its own slot, and `leave`. */
export interface LmSession extends LmGenShape {
  readonly slot: number
  /** Give the slot back (also done when the scope of `join` closes); the handle fails from then on. */
  readonly leave: Effect.Effect<void>
}

/** Every slot of the batch is taken. */
export class LmBatchFull extends Data.TaggedError("LmBatchFull")<{ readonly sessions: number }> {
  override get message() {
    return `all ${this.sessions} sessions of the batch are taken`
  }
}

export interface LmBatchShape {
  /** The most sessions at once (rows of the largest graph). */
  readonly maxRows: number
  /** Rows of the graph now: the smallest of `BATCH_SIZES` that held every session joined so far. */
  readonly rows: Effect.Effect<number>
  /** The engine every session runs on (form, context, quantization, capacity…). */
  readonly engine: FusedBatch["engine"]
  /** A new conversation in a free slot, reset, with the batch's sampling and `options.sampling` over it. */
  join(options?: LmJoinOptions): Effect.Effect<LmSession, LmBatchFull | LmRuntimeError, Scope.Scope>
  /** Sessions joined. */
  readonly live: Effect.Effect<number>
  /** Runs of the batched step so far, and the sessions' steps they ran. */
  readonly counts: FusedBatch["counts"]
  /**
   * One tick: each session's frame (its `step`, and whatever else it does first: a prompt, a reset,
   * a restore) run together, the steps gathered into ONE run of the batched graph. A session left
   * out of the tick (its audio is late, say) pads the run; a step outside any tick runs alone.
   */
  tick<A, E, R>(
    frames: ReadonlyArray<{ readonly session: LmSession; readonly frame: Effect.Effect<A, E, R> }>,
  ): Effect.Effect<ReadonlyArray<A>, E, R>
}

/** After `leave`, the session's engine refuses everything (another session may hold the slot). */
const closed = (engine: LmEngineShape, isOpen: () => boolean): LmEngineShape => {
  const left = Effect.fail(new LmInputError({ field: "session", reason: "the session has left the batch" }))
  const guard = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => (isOpen() ? effect : (left as unknown as Effect.Effect<A, E>)))
  return {
    ...engine,
    step: (input) => guard(engine.step(input)),
    prefill: (rows, options) => guard(engine.prefill(rows, options)),
    reset: guard(engine.reset),
    snapshot: guard(engine.snapshot),
    restore: (state) => guard(engine.restore(state)),
  }
}

const make = (options: LmBatchOptions): Effect.Effect<LmBatchShape, LmError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const provider = (yield* OrtSession).config.executionProviders[0] ?? "cpu"
    const largest = BATCH_SIZES.find((size) => size >= options.maxSessions) ?? options.maxSessions
    const first =
      BATCH_SIZES.find((size) => size >= Math.min(options.initialSessions ?? 2, largest)) ?? largest
    const fused = yield* openFusedBatch({
      ...options,
      provider,
      sizes: [...BATCH_SIZES.filter((size) => size >= first && size < largest), largest],
      outputLogits: options.returnLogits ?? false,
    })
    const join = (joinOptions: LmJoinOptions = {}) =>
      Effect.gen(function* () {
        const slot = yield* fused.acquire
        if (!slot) return yield* new LmBatchFull({ sessions: fused.maxRows })
        let open = true
        const leave = Effect.suspend(() => {
          open = false
          return slot.leave
        })
        yield* Effect.addFinalizer(() => leave)
        const gen = yield* LmGen.makeWith(
          closed(slot.engine, () => open),
          { sampling: { ...options.sampling, ...joinOptions.sampling } },
        )
        return { ...gen, slot: slot.slot, leave } satisfies LmSession
      })
    return {
      maxRows: fused.maxRows,
      rows: fused.rows,
      engine: fused.engine,
      join,
      live: fused.live,
      counts: fused.counts,
      tick: (frames) => fused.tick(frames.map((f) => ({ slot: f.session.slot, frame: f.frame }))),
    } satisfies LmBatchShape
  })

/**
 * Many conversations on one fused LM step: each `join` is a session with `LmGen`'s operations
 * (prompt, step, reset, snapshot/restore) on its own slot of one batched graph, whose steps run
 * together. One conversation alone is `LmGen` over the fused engine: the same code, one row.
 */
export class LmBatch extends Context.Service<LmBatch, LmBatchShape>()("@personaplex/lm/LmBatch") {
  static readonly make = make

  /** The same options as `LmGen.layer` (the fused form), and the most sessions at once. */
  static layer(options: LmBatchOptions): Layer.Layer<LmBatch, LmError, OrtSession> {
    return Layer.effect(LmBatch, make(options))
  }
}
