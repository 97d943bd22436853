import type {
  ExecutionProvider,
  OrtSessionError,
  OrtSessionShape,
  OrtTensor,
  Session,
  SessionSpec,
  StateBinding,
} from "@personaplex/runtime"
import { Effect, type Scope, Semaphore } from "effect"
import { RING_SLOTS, type StateSpec, stateInput, stateOutput, stateUpdate } from "./graph/StepGraph.ts"

/** A step graph's state values, fed back on every call. Ring states are updated in place. */
export type StepState = Readonly<Record<string, OrtTensor>>

const size = (dims: ReadonlyArray<number>) => dims.reduce((a, b) => a * b, 1)

/**
 * Zeroed state. Rings live in SharedArrayBuffers: posting them to the ORT worker shares the
 * memory instead of copying megabytes of KV cache every frame.
 */
export const zeroState = (specs: ReadonlyArray<StateSpec>): StepState =>
  Object.fromEntries(
    specs.map((s) => {
      const n = size(s.dims)
      const data =
        s.type === "int64"
          ? new BigInt64Array(n)
          : s.ring
            ? new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT))
            : new Float32Array(n)
      return [stateInput(s.name), { type: s.type, dims: s.dims, data } satisfies OrtTensor]
    }),
  )

/** Write `update` (the ring's dims with `slots.length` along `axis`) into `ring` at `slots`. */
export const writeRing = (
  ring: Float32Array,
  update: Float32Array,
  dims: ReadonlyArray<number>,
  axis: number,
  slots: Float32Array,
): void => {
  const outer = size(dims.slice(0, axis))
  const inner = size(dims.slice(axis + 1))
  const capacity = dims[axis]!
  const steps = slots.length
  const slot = Array.from(slots, Number)
  if (inner === 1) {
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < steps; j++) ring[o * capacity + slot[j]!] = update[o * steps + j]!
    return
  }
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < steps; j++) {
      const from = (o * steps + j) * inner
      ring.set(update.subarray(from, from + inner), (o * capacity + slot[j]!) * inner)
    }
}

/**
 * One step session plus the streaming state it threads through. Calls are serialised so state
 * never forks.
 */
export interface StreamingStep {
  /** The provider onnxruntime opened the session on. */
  readonly provider: ExecutionProvider
  readonly step: (
    input: Record<string, OrtTensor>,
    output: string,
  ) => Effect.Effect<OrtTensor, OrtSessionError>
  /** Run `inputs` from a fresh state, leaving the streaming state as it was (whole-clip helpers). */
  readonly runFresh: (
    inputs: ReadonlyArray<Record<string, OrtTensor>>,
    output: string,
  ) => Effect.Effect<ReadonlyArray<OrtTensor>, OrtSessionError>
  readonly reset: Effect.Effect<void, OrtSessionError>
}

/** The state lives here and is fed on every call; rings are shared memory written in place. */
export const makeStreamingStep = (session: Session, specs: ReadonlyArray<StateSpec>): StreamingStep => {
  const fresh = () => zeroState(specs)
  const lock = Semaphore.makeUnsafe(1)
  let state = fresh()
  const stepFrom = (from: StepState, input: Record<string, OrtTensor>, output: string) =>
    // Every output, and `output` even where it is a shared value (`MimiCodecOptions.sharedCodes`).
    Effect.map(
      session.run({ ...from, ...input }, [...new Set([...session.outputNames, output])]),
      (results) => {
        const next: Record<string, OrtTensor> = {}
        for (const spec of specs) {
          const key = stateInput(spec.name)
          if (spec.ring) {
            const ring = from[key]!
            writeRing(
              ring.data as Float32Array,
              results[stateUpdate(spec.name)]!.data as Float32Array,
              spec.dims,
              spec.ring.axis,
              results[RING_SLOTS]!.data as Float32Array,
            )
            next[key] = ring
          } else next[key] = results[stateOutput(spec.name)]!
        }
        return [results[output]!, next] as const
      },
    )
  return {
    provider: session.provider,
    step: (input, output) =>
      lock.withPermits(1)(
        Effect.map(stepFrom(state, input, output), ([result, next]) => {
          state = next
          return result
        }),
      ),
    runFresh: (inputs, output) =>
      Effect.gen(function* () {
        let from = fresh()
        const results: OrtTensor[] = []
        for (const input of inputs) {
          const [result, next] = yield* stepFrom(from, input, output)
          results.push(result)
          from = next
        }
        return results
      }),
    reset: lock.withPermits(1)(
      Effect.sync(() => {
        state = fresh()
      }),
    ),
  }
}

/** The worker keeps the state between runs (`SessionSpec.state`), on the GPU with a GPU provider. */
export const stateBindings = (specs: ReadonlyArray<StateSpec>): ReadonlyArray<StateBinding> =>
  specs.map((spec) => {
    if (spec.ring)
      throw new Error(`internal: ring "${spec.name}" needs the ringsInGraph form to stay on the device`)
    return { input: stateInput(spec.name), output: stateOutput(spec.name), type: spec.type, dims: spec.dims }
  })

/** Steps over a session that keeps its own state (opened with `stateBindings`). */
export const makeSessionStateStep = (session: Session): StreamingStep => {
  const lock = Semaphore.makeUnsafe(1)
  const stream = "stream"
  return {
    provider: session.provider,
    step: (input, output) =>
      lock.withPermits(1)(Effect.map(session.run(input, [output]), (results) => results[output]!)),
    runFresh: (inputs, output) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          yield* session.snapshotState(stream)
          yield* session.resetState
          const results: OrtTensor[] = []
          for (const input of inputs) results.push((yield* session.run(input, [output]))[output]!)
          return results
        }).pipe(
          Effect.ensuring(
            Effect.ignore(Effect.andThen(session.restoreState(stream), session.dropSnapshot(stream))),
          ),
        ),
      ),
    reset: lock.withPermits(1)(session.resetState),
  }
}

/**
 * Open `spec` as a streaming step over `states`: kept by the session's worker (on the device with a
 * GPU provider; the graph must write its own rings), or fed from here on every call.
 */
export const openStreamingStep = (
  ort: OrtSessionShape,
  spec: SessionSpec,
  states: ReadonlyArray<StateSpec>,
  onDevice: boolean,
): Effect.Effect<StreamingStep, OrtSessionError, Scope.Scope> =>
  onDevice
    ? Effect.map(
        ort.open({ ...spec, state: stateBindings(states), stateOnDevice: true }),
        makeSessionStateStep,
      )
    : Effect.map(ort.open(spec), (session) => makeStreamingStep(session, states))
