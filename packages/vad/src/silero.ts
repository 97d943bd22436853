import { createRequire } from "node:module"
import { AUDIO_SAMPLE_RATE, openResampler } from "@personaplex/audio-io"
import { OrtSession, type OrtTensor } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import { VoiceActivityError } from "./errors.ts"
import { checkFrame } from "./frame.ts"
import { gateProblem, makeSpeechGate, type SpeechGateOptions } from "./SpeechGate.ts"
import type { VoiceActivityShape } from "./VoiceActivity.ts"

export type SileroVersion = "v5" | "v6"

export interface SileroOptions extends SpeechGateOptions {
  /** Which of the shipped models (default "v5"; v5 and v6 share one interface, only the weights differ). */
  readonly version?: SileroVersion
}

/** The model's rate and window: 512 samples (32 ms) at 16 kHz, each fed with the 64 samples before it. */
const MODEL_RATE = 16000
const WINDOW = 512
const CONTEXT = 64
/** The recurrent state: `state` in, `stateN` out, [2, batch 1, 128]. */
const STATE_DIMS = [2, 1, 128] as const

/** The `.onnx` file inside the pinned `@ricky0123/vad-web` package. */
export const sileroModelPath = (version: SileroVersion): string =>
  createRequire(import.meta.url).resolve(`@ricky0123/vad-web/dist/silero_vad_${version}.onnx`)

const sampleRate: OrtTensor = { type: "int64", dims: [], data: BigInt64Array.of(BigInt(MODEL_RATE)) }

export const makeSileroDetector = (
  options: SileroOptions = {},
): Effect.Effect<VoiceActivityShape, VoiceActivityError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const version = options.version ?? "v5"
    const detector = `silero-${version}`
    const fail = (operation: VoiceActivityError["operation"]) => (cause: { readonly message: string }) =>
      new VoiceActivityError({ detector, operation, reason: cause.message })
    const problem = gateProblem(options)
    if (problem !== undefined)
      return yield* new VoiceActivityError({ detector, operation: "open", reason: problem })

    const model = yield* Effect.try({
      try: () => sileroModelPath(version),
      catch: () =>
        new VoiceActivityError({
          detector,
          operation: "open",
          reason: `silero_vad_${version}.onnx not found: is @ricky0123/vad-web installed?`,
        }),
    })
    const ort = yield* OrtSession
    // A small model: one thread, and no spinning threads taking CPU time from the LM beside it.
    const session = yield* ort
      .open({
        model,
        executionProviders: ["cpu"],
        intraOpThreads: 1,
        intraOpSpinning: false,
        state: [{ input: "state", output: "stateN", type: "float32", dims: STATE_DIMS }],
      })
      .pipe(Effect.mapError(fail("open")))
    const resampler = yield* openResampler(AUDIO_SAMPLE_RATE, MODEL_RATE).pipe(Effect.mapError(fail("open")))
    const gate = makeSpeechGate(options)

    // 16 kHz samples not yet run, and the window fed to the model: CONTEXT samples, then WINDOW new ones.
    let pending = new Float32Array(0)
    const input = new Float32Array(CONTEXT + WINDOW)
    let last = 0

    const runWindow = (samples: Float32Array) =>
      Effect.suspend(() => {
        input.copyWithin(0, WINDOW) // the previous window's last CONTEXT samples
        input.set(samples, CONTEXT)
        return session.run({
          input: { type: "float32", dims: [1, CONTEXT + WINDOW], data: input.slice() },
          sr: sampleRate,
        })
      }).pipe(
        Effect.map((out) => (out.output!.data as Float32Array)[0]!),
        Effect.mapError(fail("run")),
      )

    const push = (frame: Float32Array) =>
      Effect.gen(function* () {
        yield* checkFrame(detector, frame)
        const fresh = yield* resampler.push(frame).pipe(Effect.mapError(fail("run")))
        const joined = new Float32Array(pending.length + fresh.length)
        joined.set(pending)
        joined.set(fresh, pending.length)
        let highest: number | undefined
        let at = 0
        for (; at + WINDOW <= joined.length; at += WINDOW) {
          const p = yield* runWindow(joined.subarray(at, at + WINDOW))
          highest = Math.max(highest ?? 0, p)
        }
        pending = joined.slice(at)
        // A frame in which no window ended (only the first, while the resampler fills) keeps the last value.
        const probability = highest ?? last
        last = probability
        return { probability, speech: gate.update(probability) }
      })

    const reset = Effect.gen(function* () {
      yield* session.resetState.pipe(Effect.mapError(fail("reset")))
      yield* resampler.reset.pipe(Effect.mapError(fail("reset")))
      pending = new Float32Array(0)
      input.fill(0)
      last = 0
      gate.reset()
    })

    return { detector, push, reset }
  })
