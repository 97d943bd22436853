import type { OrtSessionError, OrtTensor, Session } from "@personaplex/runtime"
import { Effect, Semaphore } from "effect"
import { type StateSpec, stateInput, stateOutput } from "./graph/StepGraph.ts"

/** A step graph's state values, fed back on every call. */
export type StepState = Readonly<Record<string, OrtTensor>>

export const zeroState = (specs: ReadonlyArray<StateSpec>): StepState =>
  Object.fromEntries(
    specs.map((s) => {
      const size = s.dims.reduce((a, b) => a * b, 1)
      const data = s.type === "int64" ? new BigInt64Array(size) : new Float32Array(size)
      return [stateInput(s.name), { type: s.type, dims: s.dims, data } satisfies OrtTensor]
    }),
  )

/**
 * One step session plus the streaming state it threads through: every call feeds the
 * current state and keeps the returned one. Calls are serialised so state never forks.
 */
export interface StreamingStep {
  readonly step: (input: Record<string, OrtTensor>, output: string) => Effect.Effect<OrtTensor, OrtSessionError>
  /** Run from an explicit state without touching the held one (whole-clip helpers). */
  readonly stepFrom: (state: StepState, input: Record<string, OrtTensor>, output: string) => Effect.Effect<readonly [OrtTensor, StepState], OrtSessionError>
  readonly reset: Effect.Effect<void>
  readonly fresh: () => StepState
}

export const makeStreamingStep = (session: Session, specs: ReadonlyArray<StateSpec>): StreamingStep => {
  const fresh = () => zeroState(specs)
  const lock = Semaphore.makeUnsafe(1)
  let state = fresh()
  const stepFrom = (from: StepState, input: Record<string, OrtTensor>, output: string) =>
    Effect.map(session.run({ ...from, ...input }), (results) => {
      const next: Record<string, OrtTensor> = {}
      for (const spec of specs) next[stateInput(spec.name)] = results[stateOutput(spec.name)]!
      return [results[output]!, next] as const
    })
  return {
    fresh,
    stepFrom,
    step: (input, output) =>
      lock.withPermits(1)(
        Effect.map(stepFrom(state, input, output), ([result, next]) => {
          state = next
          return result
        }),
      ),
    reset: lock.withPermits(1)(
      Effect.sync(() => {
        state = fresh()
      }),
    ),
  }
}
