import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { MimiCodec } from "@personaplex/codec"
import { Compactor } from "@personaplex/compaction"
import { LmGen, TextTokenizer, type VoicePrompt } from "@personaplex/lm"
import {
  type EarlyCompactionOptions,
  type LoopEvent,
  runConversation,
  type SwitchPolicy,
} from "@personaplex/loop"
import { OrtSession } from "@personaplex/runtime"
import { loadVoice } from "@personaplex/stack"
import type { VoiceActivity } from "@personaplex/vad"
import { Cause, Context, Deferred, Effect, Exit, Layer, Queue, Stream } from "effect"
import {
  ConversationEngine,
  type EngineEvent,
  type EngineSession,
  type EngineStartOptions,
} from "./engine.ts"
import { EngineError } from "./errors.ts"
import type { Voice } from "./voices.ts"

/** Services each conversation gets fresh (streaming state is per conversation). */
export type ConversationModels = MimiCodec | LmGen

export interface LoopEngineOptions<E, R = OrtSession> {
  /**
   * Builds the codec and LM of one conversation. It is built anew for every session (each has its own
   * streaming state and KV cache) and released when the session ends.
   */
  readonly models: Layer.Layer<ConversationModels, E, R>
  /** Input frames per window (12.5 per second). */
  readonly windowFrames: number
  /** When a window ends (default fixed: after `windowFrames`); `pause` needs `voiceActivity`. */
  readonly switchPolicy?: SwitchPolicy
  /** The user's voice-activity detector, built anew for every session (its state follows one stream). */
  readonly voiceActivity?: Layer.Layer<VoiceActivity, unknown>
  /** Start each compaction before the cut (see the loop's `EarlyCompactionOptions`). */
  readonly earlyCompaction?: EarlyCompactionOptions
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
const runsOnOf = (models: Context.Context<ConversationModels>): string => {
  const lm = Context.get(models, LmGen).lm
  const codec = Context.get(models, MimiCodec)
  const { encoder, decoder } = codec.providers
  const mimi =
    encoder === decoder
      ? `Mimi on ${encoder} (${codec.form})`
      : `Mimi's encoder on ${encoder}, its decoder on ${decoder} (${codec.form})`
  return `LM on ${lm.provider} (${lm.form}), ${mimi}`
}

const errorOf = (cause: Cause.Cause<unknown>): EngineError =>
  new EngineError({ reason: "the conversation loop failed", cause: Cause.pretty(cause) })

const startLoopSession = <E>(
  options: LoopEngineOptions<E, never>,
  start: EngineStartOptions,
  live: { n: number },
) =>
  Effect.gen(function* () {
    const voice =
      start.voice === undefined ? undefined : yield* (options.loadVoice ?? defaultLoadVoice)(start.voice)
    const input = yield* Queue.sliding<Float32Array, Cause.Done>(INPUT_CAPACITY)
    const frames = yield* Queue.bounded<Float32Array, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const text = yield* Queue.bounded<string, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const events = yield* Queue.bounded<EngineEvent, EngineError | Cause.Done>(OUTPUT_CAPACITY)
    const ready = yield* Deferred.make<void, EngineError>()
    let dropped = 0
    let written = 0
    let compaction: Extract<LoopEvent, { _tag: "CompactionEnded" }> | undefined

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        live.n++
      }),
      () => Effect.sync(() => live.n--),
    )
    const models = yield* Layer.build(Layer.fresh(options.models)).pipe(
      Effect.mapError((cause) => new EngineError({ reason: "cannot load the models", cause })),
    )
    const listening =
      options.voiceActivity === undefined
        ? undefined
        : yield* Layer.build(Layer.fresh(options.voiceActivity)).pipe(
            Effect.mapError(
              (cause) => new EngineError({ reason: "cannot load the voice-activity detector", cause }),
            ),
          )

    const source = AudioSource.of({ frames: Stream.fromQueue(input) })
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
          return emit({ _tag: "FrameTiming", computeMs: event.totalMs })
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
    )
    yield* Effect.forkScoped(run)

    // The handshake follows the prompt phases, as upstream's server does.
    yield* Deferred.await(ready)

    return {
      pushFrame: (pcm) =>
        Effect.sync(() => {
          if (Queue.sizeUnsafe(input) >= INPUT_CAPACITY) dropped++
          Queue.offerUnsafe(input, pcm)
        }),
      frames: Stream.fromQueue(frames),
      text: Stream.fromQueue(text),
      events: Stream.fromQueue(events),
      droppedFrames: Effect.sync(() => dropped),
      runsOn: runsOnOf(models),
    } satisfies EngineSession
  })

const makeEngine = <E>(options: LoopEngineOptions<E, never>) =>
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
        startLoopSession(options, start, live).pipe(
          Effect.provideService(TextTokenizer, tokenizer),
          Effect.provideService(Compactor, compactor),
        ),
      liveSessions: Effect.sync(() => live.n),
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
        return yield* makeEngine({
          ...options,
          models: options.models.pipe(Layer.provide(Layer.succeed(OrtSession, ort))),
        })
      }),
    ),
  /**
   * The models bring their own runtime (stack's `modelLayer`: an `OrtSession` on the settings' device
   * for each build, so each session has its own).
   */
  layerSelfContained: <E>(
    options: LoopEngineOptions<E, never>,
  ): Layer.Layer<ConversationEngine, never, TextTokenizer | Compactor> =>
    Layer.effect(ConversationEngine, makeEngine(options)),
}
