import { type ExecutionProvider, OrtSession, type OrtTensor } from "@personaplex/runtime"
import { Context, Effect, Layer } from "effect"
import { type BuiltStep, buildCodec } from "./build.ts"
import { checkCodes, checkFrame } from "./checks.ts"
import { MimiConfig } from "./config.ts"
import { CodeCountError, type CodecError, MimiConfigError } from "./errors.ts"
import type { GraphForms } from "./graph/StepGraph.ts"
import { CODES_INPUT, CODES_OUTPUT, PCM_INPUT, PCM_OUTPUT } from "./graph/steps.ts"
import { CodecMetrics, timed } from "./metrics.ts"
import { openStreamingStep, type StreamingStep } from "./StreamingStep.ts"

/** Codes of a whole clip: `data[k * frames + t]` is codebook `k` of frame `t` (upstream's `[K, F]` layout). */
export interface CodeMatrix {
  readonly numCodebooks: number
  readonly frames: number
  readonly data: Int32Array
}

/**
 * How the codec's sessions run: replaying each step's captured GPU work, stepping with the streaming
 * state kept on the device, or with the state fed from the host.
 */
export type MimiForm = "captured" | "device-state" | "host-state"

/** Which `MimiForm` sessions of these options opened on `provider` take. */
export const mimiForm = (
  graphCapture: boolean | undefined,
  stateOnDevice: boolean,
  provider: string,
): MimiForm =>
  graphCapture && provider === "webgpu"
    ? "captured"
    : stateOnDevice && provider !== "cpu"
      ? "device-state"
      : "host-state"

export interface MimiCodecShape {
  readonly config: MimiConfig
  readonly numCodebooks: number
  /** The providers onnxruntime opened the two sessions on (what runs, not what was asked for). */
  readonly providers: { readonly encoder: ExecutionProvider; readonly decoder: ExecutionProvider }
  readonly form: MimiForm
  /** Streaming encode of one frame (`frameSize` samples, 24 kHz mono) to `numCodebooks` codes. */
  encode(frame: Float32Array): Effect.Effect<Int32Array, CodecError>
  /** Streaming decode of one frame's codes to `frameSize` samples. */
  decode(codes: Int32Array): Effect.Effect<Float32Array, CodecError>
  /**
   * Streaming decode of the codes in the shared buffer `MimiCodecOptions.sharedCodes.decoded`, where
   * another session of the same worker wrote them (an LM step, on the device). Fails with a
   * `MimiConfigError` when no such buffer was configured.
   */
  readonly decodeShared: Effect.Effect<Float32Array, CodecError>
  readonly resetEncoder: Effect.Effect<void, CodecError>
  readonly resetDecoder: Effect.Effect<void, CodecError>
  /** Both. */
  readonly reset: Effect.Effect<void, CodecError>
  /**
   * Encode a whole clip from a fresh state (the streaming state is untouched); the last frame
   * is zero-padded. Same codes as streaming the clip frame by frame after a reset.
   */
  encodeClip(samples: Float32Array): Effect.Effect<CodeMatrix, CodecError>
  /** Decode a whole code matrix from a fresh state (the streaming state is untouched). */
  decodeClip(codes: CodeMatrix): Effect.Effect<Float32Array, CodecError>
}

export interface MimiCodecOptions {
  /** A Mimi `.safetensors` file with upstream tensor names (or a folder / shard index). */
  readonly checkpoint: string
  /** Defaults to `MimiConfig.personaplex`. */
  readonly config?: MimiConfig
  /** Intra-op threads for the two sessions; defaults to the `OrtSession` layer's setting. */
  readonly intraOpThreads?: number
  /**
   * Execution providers for the two sessions, tried in order; defaults to the `OrtSession`
   * layer's list. E.g. `["cpu"]` to keep the codec on the CPU while the LM uses the GPU.
   */
  readonly executionProviders?: ReadonlyArray<ExecutionProvider>
  /** Fail session creation instead of running nodes the provider lacks on the CPU (GPU benchmarks). */
  readonly disableCpuFallback?: boolean
  /**
   * Keep the streaming state (conv buffers, KV rings) in the session's worker, in GPU memory with a
   * GPU provider, with the ring writes done by the graph: each frame moves only PCM and codes.
   * Default: on when the sessions' first provider (`executionProviders`, else the `OrtSession`
   * layer's) is not the CPU. Off, the state
   * lives here and the graph returns only the rings' new entries (cheapest on the CPU); there an
   * interrupted `encode` leaves the state untouched, which the worker-kept state cannot promise.
   */
  readonly stateOnDevice?: boolean
  /**
   * WebGPU: record each step's GPU work once and replay it every frame (`WebGpuOptions.graphCapture`),
   * which spares the host its per-kernel dispatch cost. Default false.
   */
  readonly graphCapture?: boolean
  /**
   * Which provider's kernels the graphs' forms suit (`GraphForms`: the same codes, PCM within
   * rounding). Default: `gpu` when the sessions' first provider is not the CPU (as `stateOnDevice`).
   */
  readonly graphForms?: GraphForms
  /**
   * Keep the codes in buffers of the `OrtSession` worker's resident pool `pool` (`SessionSpec.shared`),
   * so that they go to and from another session of the same `OrtSession` layer without leaving the
   * device: `encode` also leaves each frame's codes in buffer `encoded`; `decodeShared` decodes the
   * codes in buffer `decoded`, and `decode` writes its codes there first. Each is int32 `[numCodebooks]`.
   */
  readonly sharedCodes?: { readonly pool: string; readonly encoded?: string; readonly decoded?: string }
  /**
   * Record onnxruntime's profile of each session: files `<prefix>-encode_*.json` and
   * `<prefix>-decode_*.json`, written when the layer's scope closes. Profiling slows every step.
   */
  readonly profileFilePrefix?: string
}

const pcmTensor = (frame: Float32Array): OrtTensor => ({
  type: "float32",
  dims: [1, 1, frame.length],
  data: frame,
})
const codesTensor = (codes: Int32Array): OrtTensor => ({ type: "int32", dims: [codes.length], data: codes })

const make = (options: MimiCodecOptions) =>
  Effect.gen(function* () {
    const config = yield* MimiConfig.checked(options.config)
    const ort = yield* OrtSession
    const onGpu = (options.executionProviders ?? ort.config.executionProviders)[0] !== "cpu"
    const onDevice = options.stateOnDevice ?? onGpu
    const built = yield* buildCodec(options.checkpoint, config, {
      ringsInGraph: onDevice,
      forms: options.graphForms ?? (onGpu ? "gpu" : "cpu"),
    })
    const sessionOptions = {
      ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
      ...(options.executionProviders === undefined ? {} : { executionProviders: options.executionProviders }),
      ...(options.disableCpuFallback ? { disableCpuFallback: true } : {}),
      ...(options.graphCapture ? { webGpu: { graphCapture: true } } : {}),
    }
    /** The session's codes value in the shared buffer named for its direction, if any. */
    const sharedCodes = (direction: "encode" | "decode") => {
      const shared = options.sharedCodes
      const buffer = direction === "encode" ? shared?.encoded : shared?.decoded
      if (!shared || !buffer) return {}
      const name = direction === "encode" ? CODES_OUTPUT : CODES_INPUT
      return {
        shared: [{ name, pool: shared.pool, buffer, type: "int32" as const, dims: [config.numCodebooks] }],
      }
    }
    const open = (step: BuiltStep, direction: "encode" | "decode") => {
      const spec = {
        model: step.model,
        ...sessionOptions,
        ...sharedCodes(direction),
        ...(options.profileFilePrefix
          ? { profileFilePrefix: `${options.profileFilePrefix}-${direction}` }
          : {}),
      }
      return openStreamingStep(ort, spec, step.states, onDevice)
    }
    const encoder = yield* open(built.encoder, "encode")
    const decoder = yield* open(built.decoder, "decode")
    const { frameSize, numCodebooks } = config
    const { bins } = config.quantizer

    const encode = (frame: Float32Array) =>
      Effect.flatMap(checkFrame(frame, frameSize), () =>
        encoder.step({ [PCM_INPUT]: pcmTensor(frame) }, CODES_OUTPUT).pipe(
          timed(CodecMetrics.encodeMs),
          Effect.map((t) => t.data as Int32Array),
        ),
      )
    const decode = (codes: Int32Array) =>
      Effect.flatMap(checkCodes(codes, numCodebooks, bins), () =>
        decoder.step({ [CODES_INPUT]: codesTensor(codes) }, PCM_OUTPUT).pipe(
          timed(CodecMetrics.decodeMs),
          Effect.map((t) => t.data as Float32Array),
        ),
      )

    const decodeShared = options.sharedCodes?.decoded
      ? Effect.suspend(() => decoder.step({}, PCM_OUTPUT)).pipe(
          timed(CodecMetrics.decodeMs),
          Effect.map((t) => t.data as Float32Array),
        )
      : Effect.fail(
          new MimiConfigError({
            field: "sharedCodes.decoded",
            reason: "decodeShared needs the shared buffer to decode from",
          }),
        )

    const runClip = <I>(
      step: StreamingStep,
      inputs: ReadonlyArray<I>,
      feed: (input: I) => Record<string, OrtTensor>,
      output: string,
    ) => step.runFresh(inputs.map(feed), output)

    const encodeClip = (samples: Float32Array) =>
      Effect.gen(function* () {
        const frames = Math.ceil(samples.length / frameSize)
        const chunks = Array.from({ length: frames }, (_, t) => {
          const chunk = new Float32Array(frameSize)
          chunk.set(samples.subarray(t * frameSize, (t + 1) * frameSize))
          return chunk
        })
        const codes = yield* runClip(
          encoder,
          chunks,
          (chunk) => ({ [PCM_INPUT]: pcmTensor(chunk) }),
          CODES_OUTPUT,
        )
        const data = new Int32Array(numCodebooks * frames)
        codes.forEach((frame, t) => {
          for (let k = 0; k < numCodebooks; k++) data[k * frames + t] = (frame.data as Int32Array)[k]!
        })
        return { numCodebooks, frames, data } satisfies CodeMatrix
      })

    const decodeClip = (matrix: CodeMatrix) =>
      Effect.gen(function* () {
        if (matrix.numCodebooks !== numCodebooks)
          return yield* new CodeCountError({ expected: numCodebooks, actual: matrix.numCodebooks })
        if (matrix.data.length !== matrix.numCodebooks * matrix.frames)
          return yield* new CodeCountError({
            expected: matrix.numCodebooks * matrix.frames,
            actual: matrix.data.length,
          })
        const frames = Array.from({ length: matrix.frames }, (_, t) =>
          Int32Array.from({ length: numCodebooks }, (_, k) => matrix.data[k * matrix.frames + t]!),
        )
        for (const codes of frames) yield* checkCodes(codes, numCodebooks, bins)
        const pcm = yield* runClip(
          decoder,
          frames,
          (codes) => ({ [CODES_INPUT]: codesTensor(codes) }),
          PCM_OUTPUT,
        )
        const out = new Float32Array(matrix.frames * frameSize)
        for (const [t, frame] of pcm.entries()) out.set(frame.data as Float32Array, t * frameSize)
        return out
      })

    if (options.graphCapture) {
      // A captured session records its graph on its first runs: do them now, not in the first frames.
      for (let i = 0; i < 2; i++) {
        yield* encode(new Float32Array(frameSize))
        if (!options.sharedCodes?.decoded) yield* decode(new Int32Array(numCodebooks))
      }
      yield* encoder.reset
      yield* decoder.reset
    }
    const form = mimiForm(options.graphCapture, onDevice, encoder.provider)
    return MimiCodec.of({
      config,
      numCodebooks,
      providers: { encoder: encoder.provider, decoder: decoder.provider },
      form,
      encode,
      decode,
      decodeShared,
      resetEncoder: encoder.reset,
      resetDecoder: decoder.reset,
      reset: Effect.andThen(encoder.reset, decoder.reset),
      encodeClip,
      decodeClip,
    })
  })

/** Streaming Mimi: encoder and decoder step sessions with their state, released with the layer's scope. */
export class MimiCodec extends Context.Service<MimiCodec, MimiCodecShape>()("@personaplex/codec/MimiCodec") {
  static layer(options: MimiCodecOptions): Layer.Layer<MimiCodec, CodecError, OrtSession> {
    return Layer.effect(MimiCodec, make(options))
  }
}
