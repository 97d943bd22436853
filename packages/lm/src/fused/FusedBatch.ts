import { OrtSession } from "@personaplex/runtime"
import { Deferred, Effect, Exit, Scope, Semaphore } from "effect"
import type { EngineStepInput, EngineStepOutput, LmEngineShape } from "../engine/LmEngine.ts"
import { LmConfigError, type LmError, type LmRuntimeError } from "../errors.ts"
import { LmMetrics, timed } from "../metrics.ts"
import { BATCH_SLACK, type BatchLm, type BatchRow, openBatchLm, type PrefillPart } from "./BatchStep.ts"
import {
  type FusedEngineOptions,
  fusedOutput,
  fusedSampling,
  planFused,
  prefillEmbeddings,
  runtimeError,
} from "./FusedEngine.ts"
import { GpuLmContextFull } from "./FusedStep.ts"

/** A slot's engine and how to give the slot back. */
export interface BatchSlot {
  readonly slot: number
  readonly engine: LmEngineShape
  /** Free the slot: its row pads the batch from the next run on. */
  readonly leave: Effect.Effect<void>
}

export interface FusedBatch {
  /** The most sessions: rows of the largest graph. */
  readonly maxRows: number
  /** Rows of the graph now (it grows through `sizes` as sessions join). */
  readonly rows: Effect.Effect<number>
  /** The engine description every slot shares (form, context, quantization, capacity…). */
  readonly engine: Omit<LmEngineShape, "position" | "step" | "prefill" | "reset" | "snapshot" | "restore">
  /** A free slot's engine (growing the graph if needed), or undefined when the largest is full. */
  readonly acquire: Effect.Effect<BatchSlot | undefined, LmRuntimeError>
  /** Sessions holding a slot. */
  readonly live: Effect.Effect<number>
  /** Runs of the batched step so far and the sessions' steps they ran; prefills (of any slots) apart. */
  readonly counts: Effect.Effect<{ readonly runs: number; readonly steps: number; readonly prefills: number }>
  /**
   * One tick: each slot's frame (its steps, and whatever else it does: a prompt, a reset) run
   * together, their steps gathered into one run of the graph, which starts once every slot's frame
   * has submitted its step or ended (a warm-up step, malformed input) or is inside a prefill.
   * A step outside a tick runs at once, alone.
   */
  tick<A, E, R>(
    frames: ReadonlyArray<{ readonly slot: number; readonly frame: Effect.Effect<A, E, R> }>,
  ): Effect.Effect<ReadonlyArray<A>, E, R>
}

interface Pending {
  readonly row: BatchRow
  readonly input: EngineStepInput
  readonly done: Deferred.Deferred<EngineStepOutput, LmRuntimeError>
}

/**
 * The fused step over up to `sizes`' last number of sessions, the graph as small as the sessions
 * joined allow: a join that finds every row taken opens the next size, copies the caches into its
 * first rows and closes the smaller graph (graphs never shrink). Each slot is an `LmEngineShape` (what `LmGen` drives): its
 * steps are gathered, and ONE run of the batched graph steps every slot that submitted as soon as
 * every session holding a slot has (sessions inside a prefill excepted), or at `tick`. A prefill
 * runs as runs of its own (at most `BATCH_SLACK` rows a slot) between the batch's steps, shared by
 * every session prefilling at the time, so a prompt delays the others' frames by one such run at
 * most, and sessions that prompt together take the runs of one.
 */
export const openFusedBatch = (
  options: FusedEngineOptions & { readonly sizes: ReadonlyArray<number> },
): Effect.Effect<FusedBatch, LmError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const sizes = options.sizes
    if (
      sizes.length === 0 ||
      sizes.some((b, i) => !Number.isInteger(b) || b < 2 || (i > 0 && b <= sizes[i - 1]!))
    )
      return yield* new LmConfigError({
        field: "sizes",
        reason: `expected rising integers ≥ 2 (one session is the fused engine), found ${sizes.join(", ")}`,
      })
    const plan = yield* planFused(options)
    const { config, depformerSteps } = plan
    const ort = yield* OrtSession
    /** The graph of `rows` rows in a scope of its own (closed once a larger one has taken its caches). */
    const open = (rows: number, from?: BatchLm) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const lm = yield* openBatchLm({ ...plan.step, maxFrames: plan.maxFrames, batch: rows }, from).pipe(
          Effect.provideService(Scope.Scope, scope),
          Effect.provideService(OrtSession, ort),
          Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
          Effect.mapError(runtimeError("open")),
        )
        return { lm, scope }
      })
    let current = yield* open(sizes[0]!)
    let lm: BatchLm = current.lm
    yield* Effect.addFinalizer(() => Scope.close(current.scope, Exit.void))

    const runs = yield* Semaphore.make(1)
    const serial = runs.withPermits(1)
    const members = new Set<number>()
    const prefilling = new Set<number>()
    const pending = new Map<number, Pending>()
    let runCount = 0
    let stepCount = 0
    let prefillCount = 0
    /** The slots of the tick under way, and those whose frame has ended. */
    let expected: ReadonlySet<number> | undefined
    const ended = new Set<number>()

    /** The pending steps in one run (taken at once, so two callers never run the same step). */
    const runPending = Effect.suspend(() => {
      const taken = [...pending.values()]
      pending.clear()
      if (taken.length === 0) return Effect.void
      return serial(
        Effect.gen(function* () {
          const results = yield* lm.step(taken.map((p) => p.row)).pipe(timed(LmMetrics.temporalMs))
          runCount += 1
          stepCount += taken.length
          for (const [i, p] of taken.entries()) {
            const result = results[i]!
            yield* result instanceof GpuLmContextFull
              ? Deferred.fail(p.done, runtimeError("step")(result))
              : Deferred.succeed(p.done, fusedOutput(config, p.input, result))
          }
        }).pipe(
          Effect.catch((error) =>
            Effect.forEach(taken, (p) => Deferred.fail(p.done, runtimeError("step")(error)), {
              discard: true,
            }),
          ),
        ),
      )
    })
    /** The next part of each slot inside a prefill, waiting for a run. */
    const queued = new Map<number, PrefillPart & { readonly done: Deferred.Deferred<void, LmRuntimeError> }>()
    /** Slots inside the parts of a prefill: each has a part queued, or one in the run under way. */
    const parting = new Set<number>()
    /** The queued prefill parts in one run (taken at once, so two callers never run the same part). */
    const runQueued = serial(
      Effect.suspend(() => {
        const taken = new Map(queued)
        queued.clear()
        if (taken.size === 0) return Effect.void
        return lm.prefill(taken).pipe(
          Effect.flatMap(({ refused, runs }) => {
            prefillCount += runs
            return Effect.forEach(
              taken,
              ([slot, part]) => {
                const full = refused.get(slot)
                return full
                  ? Deferred.fail(part.done, runtimeError("prefill")(full))
                  : Deferred.succeed(part.done, undefined)
              },
              { discard: true },
            )
          }),
          Effect.catch((error) =>
            Effect.forEach(
              taken.values(),
              (part) => Deferred.fail(part.done, runtimeError("prefill")(error)),
              {
                discard: true,
              },
            ),
          ),
        )
      }),
    )
    /** Run the queued parts once every slot inside a prefill has queued its next part. */
    const runQueuedIfComplete = Effect.suspend(() => {
      if (queued.size === 0) return Effect.void
      for (const slot of parting) if (!queued.has(slot)) return Effect.void
      return runQueued
    })
    /** Run once every frame of the tick has submitted its step (or cannot), at once outside a tick. */
    const runIfComplete = Effect.suspend(() => {
      if (pending.size === 0) return Effect.void
      for (const slot of expected ?? [])
        if (members.has(slot) && !prefilling.has(slot) && !pending.has(slot) && !ended.has(slot))
          return Effect.void
      return runPending
    })

    const slotEngine = (slot: number): LmEngineShape => {
      let snapshots = 0
      const prefill: LmEngineShape["prefill"] = (rows, prefillOptions = {}) =>
        Effect.gen(function* () {
          if (rows.length === 0) return prefillOptions.embeddings ? new Float32Array(0) : undefined
          prefilling.add(slot)
          yield* runIfComplete
          const extra = prefillOptions.extra
          // A part a run, shared with the parts of every other slot prefilling meanwhile.
          parting.add(slot)
          yield* Effect.gen(function* () {
            for (let done = 0; done < rows.length; done += BATCH_SLACK) {
              const tokens = rows.slice(done, done + BATCH_SLACK)
              const finished = yield* Deferred.make<void, LmRuntimeError>()
              queued.set(slot, {
                tokens,
                ...(extra
                  ? { extra: extra.subarray(done * config.dim, (done + tokens.length) * config.dim) }
                  : {}),
                done: finished,
              })
              yield* runQueuedIfComplete
              yield* Deferred.await(finished)
            }
          }).pipe(
            Effect.ensuring(
              Effect.suspend(() => {
                parting.delete(slot)
                return runQueuedIfComplete
              }),
            ),
          )
          if (!prefillOptions.embeddings) return undefined
          return yield* prefillEmbeddings(plan, rows, extra)
        }).pipe(
          Effect.ensuring(
            Effect.suspend(() => {
              prefilling.delete(slot)
              return Effect.void
            }),
          ),
          Effect.uninterruptible,
        )
      return {
        ...shared,
        position: Effect.sync(() => lm.position(slot)),
        // `lm` is read when each effect runs: the graph may have grown since the slot was taken.
        step: (input) =>
          Effect.gen(function* () {
            const sampling = yield* fusedSampling(config, depformerSteps, input)
            const done = yield* Deferred.make<EngineStepOutput, LmRuntimeError>()
            pending.set(slot, {
              row: {
                slot,
                tokens: input.tokens,
                sampling,
                ...(input.extraEmbedding ? { extra: input.extraEmbedding } : {}),
              },
              input,
              done,
            })
            yield* runIfComplete
            return yield* Deferred.await(done)
          }).pipe(Effect.uninterruptible),
        prefill,
        reset: Effect.suspend(() => lm.reset(slot)),
        snapshot: Effect.gen(function* () {
          const key = `s${snapshots++}`
          yield* lm.snapshot(slot, key)
          return { form: "fused" as const, position: lm.position(slot), key }
        }),
        restore: (state) =>
          state.form !== "fused" || state.key === undefined
            ? Effect.fail(new LmConfigError({ field: "state", reason: `a ${state.form} engine's snapshot` }))
            : Effect.suspend(() => lm.restore(slot, state.key!)).pipe(Effect.mapError(runtimeError("state"))),
      }
    }
    const shared = {
      form: "fused" as const,
      provider: lm.opened.provider,
      config,
      context: plan.context,
      depformerSteps,
      quantization: plan.quantization,
      graphSource: plan.weights.source,
      capacity: lm.capacity,
      cheapSnapshots: true,
    }

    /** The next size's graph, between runs, with the caches of the sessions so far. */
    const grow = serial(
      Effect.gen(function* () {
        const next = sizes.find((b) => b > lm.batch)
        if (next === undefined) return false
        const grown = yield* open(next, lm)
        yield* Scope.close(current.scope, Exit.void)
        current = grown
        lm = grown.lm
        return true
      }),
    )
    const freeSlot = () => Array.from({ length: lm.batch }, (_, b) => b).find((b) => !members.has(b))

    return {
      maxRows: sizes[sizes.length - 1]!,
      rows: Effect.sync(() => lm.batch),
      engine: shared,
      acquire: Effect.gen(function* () {
        if (freeSlot() === undefined && !(yield* grow)) return undefined
        const slot = freeSlot()
        if (slot === undefined) return undefined
        members.add(slot)
        yield* lm.reset(slot)
        const leave = Effect.suspend(() => {
          if (!members.delete(slot)) return Effect.void
          prefilling.delete(slot)
          return runIfComplete
        })
        return { slot, engine: slotEngine(slot), leave }
      }),
      live: Effect.sync(() => members.size),
      counts: Effect.sync(() => ({ runs: runCount, steps: stepCount, prefills: prefillCount })),
      tick: <A, E, R>(
        frames: ReadonlyArray<{ readonly slot: number; readonly frame: Effect.Effect<A, E, R> }>,
      ) =>
        Effect.suspend(() => {
          expected = new Set(frames.map((f) => f.slot))
          ended.clear()
          return Effect.all(
            frames.map((f) =>
              f.frame.pipe(
                Effect.ensuring(
                  Effect.suspend(() => {
                    ended.add(f.slot)
                    return runIfComplete
                  }),
                ),
              ),
            ),
            { concurrency: "unbounded" },
          )
        }).pipe(
          Effect.ensuring(
            Effect.suspend(() => {
              expected = undefined
              return runIfComplete
            }),
          ),
        ),
    } satisfies FusedBatch
  })
