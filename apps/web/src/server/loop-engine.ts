import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { MimiCodec } from "@personaplex/codec"
import { Compactor } from "@personaplex/compaction"
import { LmBatch, LmGen, TextTokenizer, type VoicePrompt } from "@personaplex/lm"
import {
  type EarlyCompactionOptions,
  type LoopEvent,
  runConversation,
  type SwitchPolicy,
} from "@personaplex/loop"
import { OrtSession } from "@personaplex/runtime"
import { loadVoice } from "@personaplex/stack"
import type { Transcriber } from "@personaplex/transcriber"
import type { VoiceActivity } from "@personaplex/vad"
import { Cause, Context, Deferred, Effect, Exit, Layer, Queue, type Scope, Stream } from "effect"
import {
  ConversationEngine,
  type EngineEvent,
  type EngineSession,
  type EngineStartOptions,
} from "./engine.ts"
import { EngineError } from "./errors.ts"
import { type FrameScheduler, makeFrameScheduler, makeScheduledInput } from "./frame-scheduler.ts"
import type { Voice } from "./voices.ts"

/** Services each conversation gets fresh (streaming state is per conversation). */
export type ConversationModels = MimiCodec | LmGen

/** How the loop runs, whatever builds its models. */
export interface LoopRunOptions {
  /** Input frames per window (12.5 per second). */
  readonly windowFrames: number
  /** When a window ends (default fixed: after `windowFrames`); `pause` needs a `VoiceActivity` in `listeners`. */
  readonly switchPolicy?: SwitchPolicy
  /**
   * What listens to the user (the voice-activity detector, the transcriber: stack's `listenersLayer`),
   * built anew for every session (their state follows one stream).
   */
  readonly listeners?: Layer.Layer<VoiceActivity | Transcriber, unknown>
  /** Start each compaction before the cut (see the loop's `EarlyCompactionOptions`). */
  readonly earlyCompaction?: EarlyCompactionOptions
  /** The part of the thinking clip always played (the loop's `thinkingClipMinMs`; default all of it). */
  readonly thinkingClipMinMs?: number
  /** The thinking clip played at each window switch (1920-sample frames). */
  readonly thinkingClip: ReadonlyArray<Float32Array>
  readonly silenceFrames?: number
  readonly wordBudget?: number
  readonly compactionDeadlineMs?: number
  /** How a voice file becomes a voice prompt (default: `.wav` → audio, `.safetensors` → cached embeddings). */
  readonly loadVoice?: (voice: Voice) => Effect.Effect<VoicePrompt, EngineError>
  /** Where the models compute, for `/api/health` (default "cpu"). */
  readonly device?: string
}

export interface LoopEngineOptions<E, R = OrtSession> extends LoopRunOptions {
  /**
   * Builds the codec and LM of one conversation. It is built anew for every session (each has its own
   * streaming state and KV cache) and released when the session ends.
   */
  readonly models: Layer.Layer<ConversationModels, E, R>
}

export interface BatchedLoopEngineOptions<E> extends LoopRunOptions {
  /** Builds one conversation's codec (its own streaming state), anew for every session. */
  readonly codec: Layer.Layer<MimiCodec, E>
}

/**
 * Input frames waiting for the model (25 = 2 s). When the model is slower than real time the oldest
 * are dropped: the agent hears the most recent audio, and the lag stays bounded.
 */
const INPUT_CAPACITY = 25
const OUTPUT_CAPACITY = 256

/** `.pt` (upstream's voice embeddings), `.safetensors` (ours) or an audio file, as `personaplex run` loads them. */
export const defaultLoadVoice = (voice: Voice): Effect.Effect<VoicePrompt, EngineError> =>
  loadVoice(voice.path).pipe(
    Effect.mapError(
      (cause) => new EngineError({ reason: `cannot load voice ${voice.name}`, cause: cause.message }),
    ),
  )

/** Where a session's models compute, as onnxruntime opened them: "LM on webgpu (fused), Mimi on webgpu (captured)". */
const runsOnOf = (models: Context.Context<ConversationModels>, batchRows?: number): string => {
  const lm = Context.get(models, LmGen).lm
  const codec = Context.get(models, MimiCodec)
  const { encoder, decoder } = codec.providers
  const mimi =
    encoder === decoder
      ? `Mimi on ${encoder} (${codec.form})`
      : `Mimi's encoder on ${encoder}, its decoder on ${decoder} (${codec.form})`
  const form = batchRows === undefined ? lm.form : `${lm.form}, one row of a ${batchRows}-row batch`
  return `LM on ${lm.provider} (${form}), ${mimi}`
}

const errorOf = (cause: Cause.Cause<unknown>): EngineError =>
  new EngineError({ reason: "the conversation loop failed", cause: Cause.pretty(cause) })

/** A session's user audio on its way to the loop. */
interface SessionInput {
  /** What the loop reads. */
  readonly source: Stream.Stream<Float32Array>
  /** A frame of the client's audio; never waits. */
  readonly push: (pcm: Float32Array) => Effect.Effect<void>
  readonly dropped: Effect.Effect<number>
  readonly lateInput?: Effect.Effect<number>
  /** The loop processed a frame. */
  readonly processed: Effect.Effect<void>
  /** The loop ended. */
  readonly end: Effect.Effect<void>
}

/** What a session runs on: its codec and LM, and its input. */
interface SessionPlumbing {
  readonly models: Context.Context<ConversationModels>
  readonly input: SessionInput
  /** Rows of the batch the session's LM steps in (absent: an LM of its own). */
  readonly batchRows?: number
}

type Plumb = () => Effect.Effect<SessionPlumbing, EngineError, Scope.Scope>

/** Models of its own, and the input straight to the loop, which paces itself by the client's audio. */
const ownModels =
  <E>(models: Layer.Layer<ConversationModels, E>): Plumb =>
  () =>
    Effect.gen(function* () {
      const built = yield* Layer.build(Layer.fresh(models)).pipe(
        Effect.mapError((cause) => new EngineError({ reason: "cannot load the models", cause })),
      )
      const queue = yield* Queue.sliding<Float32Array, Cause.Done>(INPUT_CAPACITY)
      let dropped = 0
      return {
        models: built,
        input: {
          source: Stream.fromQueue(queue),
          push: (pcm) =>
            Effect.sync(() => {
              if (Queue.sizeUnsafe(queue) >= INPUT_CAPACITY) dropped++
              Queue.offerUnsafe(queue, pcm)
            }),
          dropped: Effect.sync(() => dropped),
          processed: Effect.void,
          end: Effect.void,
        },
      }
    })

/** A codec of its own and a row of the batch; the frame clock hands the loop its input. */
const batchRow =
  <E>(codec: Layer.Layer<MimiCodec, E>, batch: LmBatch["Service"], scheduler: FrameScheduler): Plumb =>
  () =>
    Effect.gen(function* () {
      const built = yield* Layer.build(Layer.fresh(codec)).pipe(
        Effect.mapError((cause) => new EngineError({ reason: "cannot load the codec", cause })),
      )
      const session = yield* batch
        .join()
        .pipe(Effect.mapError((cause) => new EngineError({ reason: "cannot join the LM batch", cause })))
      const input = yield* makeScheduledInput(session, INPUT_CAPACITY)
      yield* scheduler.add(input.member)
      return {
        models: Context.add(built, LmGen, session),
        input: {
          source: input.source,
          push: input.push,
          dropped: input.dropped,
          lateInput: input.lateInput,
          processed: input.processed,
          end: input.end,
        },
        batchRows: yield* batch.rows,
      }
    })

const startLoopSession = (
  options: LoopRunOptions,
  plumb: Plumb,
  start: EngineStartOptions,
  live: { n: number },
) =>
  Effect.gen(function* () {
    const voice =
      start.voice === undefined ? undefined : yield* (options.loadVoice ?? defaultLoadVoice)(start.voice)
    const frames = yield* Queue.bounded<Float32Array, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const text = yield* Queue.bounded<string, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const events = yield* Queue.bounded<EngineEvent, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const ready = yield* Deferred.make<void, EngineError>()
    let written = 0
    let compaction: Extract<LoopEvent, { _tag: "CompactionEnded" }> | undefined

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        live.n++
      }),
      () => Effect.sync(() => live.n--),
    )
    const { models, input, batchRows } = yield* plumb()
    const listening =
      options.listeners === undefined
        ? undefined
        : yield* Layer.build(Layer.fresh(options.listeners)).pipe(
            Effect.mapError(
              (cause) =>
                new EngineError({
                  reason: "cannot load what listens to the user (voice activity, transcriber)",
                  cause,
                }),
            ),
          )

    const source = AudioSource.of({ frames: input.source })
    const sink = AudioSink.of({
      write: (frame) =>
        Queue.offer(frames, frame).pipe(
          Effect.andThen(
            Effect.sync(() => {
              written++
            }),
          ),
        ),
      framesWritten: Effect.sync(() => written),
    })

    const onEvent = (event: LoopEvent): Effect.Effect<void> => {
      const emit = (e: EngineEvent) => Effect.asVoid(Queue.offer(events, e))
      switch (event._tag) {
        case "PromptInjected":
          return Deferred.succeed(ready, undefined).pipe(Effect.asVoid)
        case "WindowStarted":
          return Effect.all([
            emit({
              _tag: "Prompt",
              prompt: event.prompt,
              source: event.promptSource,
              windowIndex: event.window,
            }),
            emit({ _tag: "WindowStart", index: event.window }),
          ]).pipe(Effect.asVoid)
        case "FrameProcessed":
          return Effect.andThen(input.processed, emit({ _tag: "FrameTiming", computeMs: event.totalMs }))
        case "TextPiece":
          return Effect.asVoid(Queue.offer(text, event.text))
        case "WindowEnded":
          return emit({ _tag: "WindowEnd", index: event.window, agentText: event.agentText })
        case "CompactionEnded":
          return Effect.sync(() => {
            compaction = event
          })
        case "SwitchEnded":
          return emit({
            _tag: "Compaction",
            index: event.afterWindow,
            durationMs: compaction?.durationMs ?? 0,
            pauseMs: event.pauseMs,
            source: compaction?.source ?? "fallback",
            prompt: compaction?.prompt ?? "",
            ...(compaction?.reason === undefined ? {} : { reason: compaction.reason }),
          })
        default:
          return Effect.void
      }
    }

    const run = runConversation(
      {
        windowFrames: options.windowFrames,
        ...(options.switchPolicy === undefined ? {} : { switchPolicy: options.switchPolicy }),
        ...(options.earlyCompaction === undefined ? {} : { earlyCompaction: options.earlyCompaction }),
        ...(options.thinkingClipMinMs === undefined ? {} : { thinkingClipMinMs: options.thinkingClipMinMs }),
        initialPrompt: start.textPrompt,
        ...(voice === undefined ? {} : { voice }),
        thinkingClip: options.thinkingClip,
        pace: "realtime",
        ...(options.silenceFrames === undefined ? {} : { silenceFrames: options.silenceFrames }),
        ...(options.wordBudget === undefined ? {} : { wordBudget: options.wordBudget }),
        ...(options.compactionDeadlineMs === undefined
          ? {}
          : { compactionDeadlineMs: options.compactionDeadlineMs }),
        reportMeta: { sessionId: start.sessionId },
      },
      onEvent,
    ).pipe(
      Effect.provideContext(models),
      listening === undefined ? (run) => run : Effect.provideContext(listening),
      Effect.provideService(AudioSource, source),
      Effect.provideService(AudioSink, sink),
      Effect.onExit((exit) =>
        Effect.andThen(
          input.end,
          Effect.sync(() => {
            const error =
              Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? errorOf(exit.cause) : undefined
            const finish = <A>(q: Queue.Queue<A, EngineError | Cause.Done>) =>
              error === undefined ? Queue.endUnsafe(q) : Queue.failCauseUnsafe(q, Cause.fail(error))
            finish(frames)
            finish(text)
            finish(events)
            if (error !== undefined) Deferred.doneUnsafe(ready, Effect.fail(error))
          }),
        ),
      ),
    )
    yield* Effect.forkScoped(run)

    // The handshake follows the prompt phases, as upstream's server does.
    yield* Deferred.await(ready)

    return {
      pushFrame: input.push,
      frames: Stream.fromQueue(frames),
      text: Stream.fromQueue(text),
      events: Stream.fromQueue(events),
      droppedFrames: input.dropped,
      ...(input.lateInput === undefined ? {} : { lateInputFrames: input.lateInput }),
      runsOn: runsOnOf(models, batchRows),
    } satisfies EngineSession
  })

const makeEngine = (
  options: LoopRunOptions,
  plumb: Plumb,
  extra: Pick<ConversationEngine["Service"], "batch"> = {},
) =>
  Effect.gen(function* () {
    // Only these services are shared: the layer's whole context would also carry the layer's Scope,
    // and each session's resources must go to the session's own scope.
    const tokenizer = yield* TextTokenizer
    const compactor = yield* Compactor
    const live = { n: 0 }
    return ConversationEngine.of({
      name: "personaplex-loop",
      device: options.device ?? "cpu",
      start: (start) =>
        startLoopSession(options, plumb, start, live).pipe(
          Effect.provideService(TextTokenizer, tokenizer),
          Effect.provideService(Compactor, compactor),
        ),
      liveSessions: Effect.sync(() => live.n),
      ...extra,
    })
  })

/**
 * The real conversation loop (`@personaplex/loop`) behind the web protocol: one loop run per session,
 * at real-time pace, on its own freshly built codec and LM; the tokenizer and compactor are shared.
 */
export const LoopEngine = {
  /** Every session's models run on the one shared `OrtSession` this layer is given. */
  layer: <E>(
    options: LoopEngineOptions<E>,
  ): Layer.Layer<ConversationEngine, never, OrtSession | TextTokenizer | Compactor> =>
    Layer.effect(
      ConversationEngine,
      Effect.gen(function* () {
        const ort = yield* OrtSession
        return yield* makeEngine(
          options,
          ownModels(options.models.pipe(Layer.provide(Layer.succeed(OrtSession, ort)))),
        )
      }),
    ),
  /**
   * The models bring their own runtime (stack's `modelLayer`: an `OrtSession` on the settings' device
   * for each build, so each session has its own).
   */
  layerSelfContained: <E>(
    options: LoopEngineOptions<E, never>,
  ): Layer.Layer<ConversationEngine, never, TextTokenizer | Compactor> =>
    Layer.effect(ConversationEngine, makeEngine(options, ownModels(options.models))),
  /**
   * Many conversations on one LM step: each session joins the `LmBatch` (a row of its own: cache,
   * position, prompt, sampler) with a codec of its own, and the server's frame clock drives them all:
   * every 80 ms one tick runs each talking session's encode, ONE batched LM step and the decodes.
   */
  layerBatched: <E>(
    options: BatchedLoopEngineOptions<E>,
  ): Layer.Layer<ConversationEngine, never, LmBatch | TextTokenizer | Compactor> =>
    Layer.effect(
      ConversationEngine,
      Effect.gen(function* () {
        const batch = yield* LmBatch
        const scheduler = yield* makeFrameScheduler(batch)
        return yield* makeEngine(options, batchRow(options.codec, batch, scheduler), {
          batch: scheduler.status,
        })
      }),
    ),
}
