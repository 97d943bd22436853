import { type ExecutionProvider, OrtSession, type OrtTensor } from "@personaplex/runtime"
import { Context, Effect, Layer, type Scope, Semaphore } from "effect"
import { buildCodec } from "./build.ts"
import { checkCodes, checkFrame } from "./checks.ts"
import { MimiConfig } from "./config.ts"
import { BatchRowError, BatchWidthError, type CodecError, MimiConfigError } from "./errors.ts"
import { FRESH_INPUT, type GraphForms, LIVE_INPUT } from "./graph/StepGraph.ts"
import { CODES_INPUT, CODES_OUTPUT, PCM_INPUT, PCM_OUTPUT } from "./graph/steps.ts"
import { type MimiCodecOptions, type MimiForm, mimiForm } from "./MimiCodec.ts"
import { CodecMetrics, timed } from "./metrics.ts"
import { openStreamingStep, type StreamingStep } from "./StreamingStep.ts"

export type MimiBatchError = CodecError | BatchRowError | BatchWidthError

/**
 * `rows` Mimi streams stepped together: one encoder run encodes a frame of every row that has one,
 * one decoder run decodes them, each row with its own streaming state (a conversation per row).
 */
export interface MimiBatchShape {
  readonly config: MimiConfig
  readonly numCodebooks: number
  readonly rows: number
  readonly providers: { readonly encoder: ExecutionProvider; readonly decoder: ExecutionProvider }
  readonly form: MimiForm
  /**
   * Encode one frame (`frameSize` samples) per row, `undefined` where a row has none this tick: that
   * row pads (its state does not advance) and gets `undefined` back. One run for all rows, none when
   * every row pads.
   */
  encode(
    frames: ReadonlyArray<Float32Array | undefined>,
  ): Effect.Effect<ReadonlyArray<Int32Array | undefined>, MimiBatchError>
  /** Decode one frame's codes per row (`undefined` pads, as in `encode`) to `frameSize` samples each. */
  decode(
    codes: ReadonlyArray<Int32Array | undefined>,
  ): Effect.Effect<ReadonlyArray<Float32Array | undefined>, MimiBatchError>
  /**
   * Start row `row`'s encoder stream afresh (a conversation leaving or joining): its next frame is
   * encoded from the start-of-stream state; the other rows are untouched.
   */
  resetEncoderRow(row: number): Effect.Effect<void, BatchRowError>
  resetDecoderRow(row: number): Effect.Effect<void, BatchRowError>
  /** Both. */
  resetRow(row: number): Effect.Effect<void, BatchRowError>
}

export interface MimiBatchOptions
  extends Pick<
    MimiCodecOptions,
    | "checkpoint"
    | "config"
    | "intraOpThreads"
    | "executionProviders"
    | "disableCpuFallback"
    | "stateOnDevice"
    | "graphCapture"
    | "graphForms"
  > {
  /**
   * Streams stepped together (at least 1). With more than one, `stateOnDevice` defaults to on
   * whatever the provider: the batched graph writes its rings itself and returns them whole.
   */
  readonly rows: number
}

/**
 * One of the batch's two graphs with its rows: which rows start afresh on their next frame.
 * A row's reset is a flag the graph reads (`fresh`) on the row's next live run, so that it works
 * the same whether the state lives here or on the device, and never touches the other rows.
 */
const batchedStep = (step: StreamingStep, rows: number) => {
  const pendingFresh = new Array<boolean>(rows).fill(false)
  const lock = Semaphore.makeUnsafe(1)
  const rowFlags = (flags: ReadonlyArray<boolean>): OrtTensor => ({
    type: "float32",
    dims: [rows],
    data: Float32Array.from(flags, Number),
  })
  return {
    /** One run over the live rows (`live[r]`), or none where no row is live. */
    run: (live: ReadonlyArray<boolean>, input: Record<string, OrtTensor>, output: string) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          if (!live.includes(true)) return undefined
          // A single-row graph has no row flags: its one row pads by not running and resets whole.
          if (rows === 1 && pendingFresh[0]) yield* step.reset
          const fresh = live.map((isLive, r) => isLive && pendingFresh[r]!)
          const flags = rows === 1 ? {} : { [LIVE_INPUT]: rowFlags(live), [FRESH_INPUT]: rowFlags(fresh) }
          const result = yield* step.step({ ...input, ...flags }, output)
          // Only the flags this run read: a reset that came in during the run holds for the next one.
          for (const [r, wasFresh] of fresh.entries()) if (wasFresh) pendingFresh[r] = false
          return result
        }),
      ),
    resetRow: (row: number) =>
      Number.isInteger(row) && row >= 0 && row < rows
        ? Effect.sync(() => {
            pendingFresh[row] = true
          })
        : Effect.fail(new BatchRowError({ row, rows })),
  }
}

const checkWidth = (entries: ReadonlyArray<unknown>, rows: number) =>
  entries.length === rows
    ? Effect.void
    : Effect.fail(new BatchWidthError({ expected: rows, actual: entries.length }))

const make = (
  options: MimiBatchOptions,
): Effect.Effect<MimiBatchShape, MimiBatchError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* MimiConfig.checked(options.config)
    const { rows } = options
    if (!Number.isInteger(rows) || rows < 1)
      return yield* new MimiConfigError({ field: "rows", reason: `must be a positive integer, got ${rows}` })
    const ort = yield* OrtSession
    const onGpu = (options.executionProviders ?? ort.config.executionProviders)[0] !== "cpu"
    // Several rows: the state stays in the session's worker by default, on the CPU too, as the
    // batched graph returns its rings whole (fed from here, every frame would copy them twice).
    const onDevice = options.stateOnDevice ?? (onGpu || rows > 1)
    const forms: GraphForms = options.graphForms ?? (onGpu ? "gpu" : "cpu")
    // A batched graph writes its rings itself (state here or on the device alike); one row is the
    // unbatched graph, whose host-kept form has the host write them.
    const built = yield* buildCodec(options.checkpoint, config, {
      ringsInGraph: rows > 1 || onDevice,
      forms,
      batch: rows,
    })
    const spec = {
      ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
      ...(options.executionProviders === undefined ? {} : { executionProviders: options.executionProviders }),
      ...(options.disableCpuFallback ? { disableCpuFallback: true } : {}),
      ...(options.graphCapture ? { webGpu: { graphCapture: true } } : {}),
    }
    const encoderStep = yield* openStreamingStep(
      ort,
      { model: built.encoder.model, ...spec },
      built.encoder.states,
      onDevice,
    )
    const decoderStep = yield* openStreamingStep(
      ort,
      { model: built.decoder.model, ...spec },
      built.decoder.states,
      onDevice,
    )
    const encoder = batchedStep(encoderStep, rows)
    const decoder = batchedStep(decoderStep, rows)
    const { frameSize, numCodebooks } = config
    const { bins } = config.quantizer
    const batchDims = (perRow: ReadonlyArray<number>) => (rows === 1 ? perRow : [rows, ...perRow])

    const encode = (frames: ReadonlyArray<Float32Array | undefined>) =>
      Effect.gen(function* () {
        yield* checkWidth(frames, rows)
        for (const frame of frames) if (frame) yield* checkFrame(frame, frameSize)
        const pcm = new Float32Array(rows * frameSize)
        for (const [r, frame] of frames.entries()) if (frame) pcm.set(frame, r * frameSize)
        const live = frames.map((frame) => frame !== undefined)
        const codes = yield* encoder
          .run(
            live,
            { [PCM_INPUT]: { type: "float32", dims: [rows, 1, frameSize], data: pcm } },
            CODES_OUTPUT,
          )
          .pipe(timed(CodecMetrics.encodeMs))
        const data = codes?.data as Int32Array | undefined
        return live.map((isLive, r) =>
          isLive && data ? data.slice(r * numCodebooks, (r + 1) * numCodebooks) : undefined,
        )
      })

    const decode = (codes: ReadonlyArray<Int32Array | undefined>) =>
      Effect.gen(function* () {
        yield* checkWidth(codes, rows)
        for (const frame of codes) if (frame) yield* checkCodes(frame, numCodebooks, bins)
        const input = new Int32Array(rows * numCodebooks)
        for (const [r, frame] of codes.entries()) if (frame) input.set(frame, r * numCodebooks)
        const live = codes.map((frame) => frame !== undefined)
        const pcm = yield* decoder
          .run(
            live,
            { [CODES_INPUT]: { type: "int32", dims: batchDims([numCodebooks]), data: input } },
            PCM_OUTPUT,
          )
          .pipe(timed(CodecMetrics.decodeMs))
        const data = pcm?.data as Float32Array | undefined
        return live.map((isLive, r) =>
          isLive && data ? data.slice(r * frameSize, (r + 1) * frameSize) : undefined,
        )
      })

    const everyRow = Array.from({ length: rows }, (_, r) => r)
    if (options.graphCapture) {
      // A captured session records its graph on its first runs: do them now, not in the first frames.
      const live = everyRow.map(() => true)
      for (let i = 0; i < 2; i++) {
        yield* encode(live.map(() => new Float32Array(frameSize)))
        yield* decode(live.map(() => new Int32Array(numCodebooks)))
      }
      for (const r of everyRow) yield* Effect.andThen(encoder.resetRow(r), decoder.resetRow(r))
    }
    const form = mimiForm(options.graphCapture, onDevice, encoderStep.provider)
    return MimiBatch.of({
      config,
      numCodebooks,
      rows,
      providers: { encoder: encoderStep.provider, decoder: decoderStep.provider },
      form,
      encode,
      decode,
      resetEncoderRow: encoder.resetRow,
      resetDecoderRow: decoder.resetRow,
      resetRow: (row) => Effect.andThen(encoder.resetRow(row), decoder.resetRow(row)),
    })
  })

/** Batched streaming Mimi (`MimiBatchShape`): its two sessions are released with the scope. */
export class MimiBatch extends Context.Service<MimiBatch, MimiBatchShape>()("@personaplex/codec/MimiBatch") {
  /** A batch of its own in the current scope (a server may hold several, one per batch size). */
  static open(
    options: MimiBatchOptions,
  ): Effect.Effect<MimiBatchShape, MimiBatchError, OrtSession | Scope.Scope> {
    return make(options)
  }
  static layer(options: MimiBatchOptions): Layer.Layer<MimiBatch, MimiBatchError, OrtSession> {
    return Layer.effect(MimiBatch, make(options))
  }
}
