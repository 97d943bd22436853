import { Context, Effect, Exit, Layer } from "effect"
import {
  TranscriberInputError,
  TranscriberModelError,
  type TranscriberModelMissingError,
  TranscriptionError,
} from "./errors.ts"
import {
  type ResolvedTranscriberModel,
  type ResolveModelOptions,
  resolveTranscriberModel,
  type TranscriberModelSource,
} from "./modelFolder.ts"
import { openRecognizer } from "./recognizer.ts"
import { Segmenter, type SegmenterOptions, type Utterance } from "./segmenter.ts"
import { FRAME_SAMPLES, type TranscriptPiece } from "./types.ts"

/** What recognized the user's speech, for reports. */
export interface TranscriberInfo {
  /** "moonshine", or the test layer's "scripted". */
  readonly family: string
  readonly model: string
  readonly dtype?: string
}

export interface TranscriberShape {
  readonly info: TranscriberInfo
  /**
   * Hears the user's next 80 ms frame (1920 samples at 24 kHz). An utterance it completes is
   * recognized in the background; this never waits for the recognizer.
   */
  hear(frame: Float32Array): Effect.Effect<void, TranscriberInputError>
  /**
   * Ends the utterance in progress, waits for every one still being recognized, and returns the
   * pieces finished since the last `flush`, in time order. Interrupted, it keeps them for the next.
   */
  readonly flush: Effect.Effect<ReadonlyArray<TranscriptPiece>, TranscriptionError>
  /**
   * The pieces already recognized, in time order, without waiting or ending the utterance in
   * progress (what a frame-by-frame caller polls); they are not returned again by `flush`.
   */
  readonly ready: Effect.Effect<ReadonlyArray<TranscriptPiece>, TranscriptionError>
  /** Forgets everything heard and not yet flushed; the next frame is at 0 ms again. */
  readonly reset: Effect.Effect<void>
}

/** Turns an utterance (24 kHz audio and its place on the timeline) into text. */
export type Recognize = (utterance: Utterance) => Promise<string>

interface Job {
  readonly utterance: Utterance
  readonly result: Promise<string>
  /** Set once `result` has settled. */
  settled: boolean
}

const awaitJob = (job: Job) =>
  Effect.tryPromise({
    try: () => job.result,
    catch: (cause) =>
      new TranscriptionError({
        startMs: job.utterance.startMs,
        endMs: job.utterance.endMs,
        reason: cause instanceof Error ? cause.message : String(cause),
      }),
  }).pipe(
    Effect.map(
      (text): TranscriptPiece => ({ text, startMs: job.utterance.startMs, endMs: job.utterance.endMs }),
    ),
  )

/**
 * The service over a recognizer: frames go through the segmenter, utterances to `recognize` one
 * after another, results come back with their timing. Pieces with no text are dropped.
 */
export const makeTranscriber = (
  info: TranscriberInfo,
  recognize: Recognize,
  segmenting: SegmenterOptions = {},
): TranscriberShape => {
  const segmenter = new Segmenter(segmenting)
  let jobs: Array<Job> = []
  let tail: Promise<unknown> = Promise.resolve()
  const submit = (utterance: Utterance) => {
    const result = tail.then(() => recognize(utterance))
    tail = result.catch(() => undefined)
    const job: Job = { utterance, result, settled: false }
    // Failures surface at `flush` or `ready`; until then nobody awaits this promise.
    result.then(
      () => (job.settled = true),
      () => (job.settled = true),
    )
    jobs.push(job)
  }
  /** Awaits `taken` in order; interrupted, or on the first failure (reported once), the rest go back. */
  const collect = (taken: Array<Job>) => {
    let failed: Job | undefined
    return Effect.forEach(taken, (job) =>
      awaitJob(job).pipe(Effect.tapError(() => Effect.sync(() => (failed = job)))),
    ).pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? Effect.void
          : Effect.sync(() => {
              jobs = [...taken.filter((job) => job !== failed), ...jobs]
            }),
      ),
      Effect.map((pieces) => pieces.filter((p) => p.text.length > 0)),
    )
  }
  return {
    info,
    hear: (frame) =>
      Effect.suspend(() => {
        if (frame.length !== FRAME_SAMPLES)
          return Effect.fail(new TranscriberInputError({ samples: frame.length, expected: FRAME_SAMPLES }))
        const utterance = segmenter.push(frame)
        if (utterance) submit(utterance)
        return Effect.void
      }),
    flush: Effect.suspend(() => {
      const last = segmenter.flush()
      if (last) submit(last)
      const taken = jobs
      jobs = []
      return collect(taken)
    }),
    ready: Effect.suspend(() => {
      const done = jobs.findIndex((job) => !job.settled)
      const taken = done < 0 ? jobs : jobs.slice(0, done)
      jobs = jobs.slice(taken.length)
      return collect(taken)
    }),
    reset: Effect.sync(() => {
      segmenter.reset()
      jobs = []
    }),
  }
}

export interface TranscriberOptions extends ResolveModelOptions {
  readonly source: TranscriberModelSource
  /** onnxruntime threads for the recognizer's sessions (default 1: the LM and codec need the other cores). */
  readonly threads?: number
  readonly segmenting?: SegmenterOptions
}

export type TranscriberLoadError = TranscriberModelMissingError | TranscriberModelError

const describe = (model: ResolvedTranscriberModel, source: TranscriberModelSource): TranscriberInfo => ({
  family: model.family,
  model: "folder" in source ? source.folder : `${source.repo}@${source.revision ?? "main"}`,
  dtype: model.dtype,
})

/** The user's side of the transcript: speech recognition over the user's 24 kHz frames. */
export class Transcriber extends Context.Service<Transcriber, TranscriberShape>()(
  "@personaplex/transcriber/Transcriber",
) {
  /**
   * A Moonshine model through transformers.js on onnxruntime-node (the project's own 1.30 copy),
   * in a worker thread: resolved from a folder or the Hugging Face cache, loaded when the layer is
   * built, its worker ended when the scope closes.
   */
  static layer(options: TranscriberOptions): Layer.Layer<Transcriber, TranscriberLoadError> {
    return Layer.effect(
      Transcriber,
      Effect.gen(function* () {
        const model = yield* resolveTranscriberModel(options.source, options)
        const recognizer = yield* openRecognizer({
          folder: model.folder,
          dtype: model.dtype,
          threads: options.threads ?? 1,
        }).pipe(
          Effect.mapError(
            (error) => new TranscriberModelError({ source: model.folder, reason: error.message }),
          ),
        )
        return Transcriber.of(
          makeTranscriber(
            describe(model, options.source),
            (utterance) => recognizer.recognize(utterance.samples),
            options.segmenting,
          ),
        )
      }),
    )
  }

  /**
   * No model: each utterance's text is `say(index, utterance)` (default `utterance N`), so tests can
   * check where the user's words land without a recognizer.
   */
  static layerTest(
    say: (index: number, utterance: Utterance) => string = (index) => `utterance ${index}`,
    segmenting: SegmenterOptions = {},
  ): Layer.Layer<Transcriber> {
    return Layer.sync(Transcriber, () => {
      let index = 0
      return Transcriber.of(
        makeTranscriber(
          { family: "scripted", model: "layerTest" },
          async (utterance) => say(index++, utterance),
          segmenting,
        ),
      )
    })
  }
}
