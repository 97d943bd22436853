import { type CodecError, MimiCodec } from "@personaplex/codec"
import { OrtSession } from "@personaplex/runtime"
import { Context, Effect, Layer, type Scope, Semaphore } from "effect"
import { DEFAULT_SILENCE_FRAMES, STREAMS, ZERO_TOKEN } from "./constants.ts"
import type { LmEngineForm, LmEngineShape, LmEngineState } from "./engine/LmEngine.ts"
import { twoGraphEngine } from "./engine/twoGraph.ts"
import { type LmError, LmInputError } from "./errors.ts"
import { type FusedEngineOptions, openFusedEngine } from "./fused/FusedEngine.ts"
import { providedRows, type StepResult, stepTokens } from "./generation.ts"
import type { LmConfig } from "./LmConfig.ts"
import { MoshiLm, type MoshiLmOptions } from "./MoshiLm.ts"
import { LmMetrics, timed } from "./metrics.ts"
import { silenceAndTextSteps, voiceSteps } from "./prompts.ts"
import { defaultSampling, Samplers, type SamplingOptions } from "./sampling.ts"
import { type ProvidedTokens, TokenRing, type TokenRingState } from "./TokenRing.ts"
import { scriptedMoshiLm } from "./testing.ts"
import { type CachedVoicePrompt, VoicePrompt } from "./VoicePrompt.ts"

/** A PersonaPlex system prompt (upstream-spec §5.3). */
export interface SystemPrompt {
  readonly voice?: VoicePrompt
  /** Token ids of the wrapped text prompt (`wrapWithSystemTags` + tokenizer). May be empty. */
  readonly textTokens: Int32Array
  /** Frames of each silence phase (default 6). */
  readonly silenceFrames?: number
}

/** Everything LmGen's next step depends on: token ring, KV ring and position, PRNG. */
export interface LmGenSnapshot {
  readonly ring: TokenRingState
  readonly lm: LmEngineState
  readonly prng: ReadonlyArray<number>
}

export interface LmGenShape {
  readonly config: LmConfig
  /** The engine underneath (its form, context, quantization, depformer steps, capacity). */
  readonly lm: LmEngineShape
  /** Feed one frame of user codes; returns the 17 output tokens, or undefined during warm-up. */
  step(userCodes: Int32Array): Effect.Effect<Int32Array | undefined, LmError>
  /** `step` with everything it computed (logits when the layer has `returnLogits`). */
  stepFrame(userCodes: Int32Array): Effect.Effect<StepResult, LmError>
  /** A step with any streams teacher-forced (what the prompt phases use). */
  stepProvided(tokens: ProvidedTokens): Effect.Effect<StepResult, LmError>
  /**
   * reset + voice phase (encodes Audio voice with MimiCodec, then resets the codec) + silence + text +
   * silence, then resets the codec (as upstream does after the prompts). Each phase is one batched
   * prefill; on an engine with cheap snapshots the state after a voice is kept, and the next prompt
   * with the same voice starts from it. Interruptible between phases (interrupted, the LM is reset).
   */
  prompt(system: SystemPrompt): Effect.Effect<void, LmError | CodecError, MimiCodec>
  /** reset + the voice phase from audio, returned as a replayable cache (save it with `saveVoicePrompt`). */
  recordVoicePrompt(pcm: Float32Array): Effect.Effect<CachedVoicePrompt, LmError | CodecError, MimiCodec>
  readonly reset: Effect.Effect<void, LmError>
  readonly tokenRing: Effect.Effect<TokenRingState>
  readonly snapshot: Effect.Effect<LmGenSnapshot, LmError>
  restore(snapshot: LmGenSnapshot): Effect.Effect<void, LmError>
}

export interface LmGenOptions extends MoshiLmOptions, Omit<FusedEngineOptions, keyof MoshiLmOptions> {
  readonly sampling?: Partial<SamplingOptions>
  /** Fetch text and audio logits on every step (`stepFrame`); costs a copy per step. */
  readonly returnLogits?: boolean
  /**
   * Which engine runs the model (`LmEngineForm`). Default `auto`: the two-graph form when the
   * `OrtSession` layer's first provider is the CPU, the fused form on a GPU provider.
   */
  readonly engine?: LmEngineForm | "auto"
}

/** The engine `options.engine` names, on the `OrtSession` layer's first provider. */
const openEngine = (options: LmGenOptions): Effect.Effect<LmEngineShape, LmError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const provider = (yield* OrtSession).config.executionProviders[0] ?? "cpu"
    const form =
      options.engine === undefined || options.engine === "auto"
        ? provider === "cpu"
          ? "two-graph"
          : "fused"
        : options.engine
    if (form === "fused")
      return yield* openFusedEngine({ ...options, provider, outputLogits: options.returnLogits ?? false })
    return twoGraphEngine(yield* MoshiLm.make(options), { returnLogits: options.returnLogits ?? false })
  })

const make = (options: LmGenOptions): Effect.Effect<LmGenShape, LmError, OrtSession | Scope.Scope> =>
  Effect.flatMap(openEngine(options), (engine) => makeWith(engine, options))

/** LmGen over any engine (the two-graph or fused form, or a stand-in for tests). */
const makeWith = (lm: LmEngineShape, options: Pick<LmGenOptions, "sampling">): Effect.Effect<LmGenShape> =>
  Effect.gen(function* () {
    const config = lm.config
    const sampling: SamplingOptions = { ...defaultSampling, ...options.sampling }
    const samplers = new Samplers(sampling, config.textCard, config.card, lm.depformerSteps)
    const ring = new TokenRing(config.delays, config.textCard, config.card)
    const lock = yield* Semaphore.make(1)
    const serial = lock.withPermits(1)
    /** The state after the last voice phase (`LmEngineShape.cheapSnapshots`), by voice. */
    let afterVoice: { readonly voice: unknown; readonly snapshot: LmGenSnapshot } | undefined

    const step = (tokens: ProvidedTokens) => stepTokens(lm, ring, samplers, tokens)
    const reset = Effect.gen(function* () {
      ring.reset()
      yield* lm.reset
    })
    const prefill = (steps: ReadonlyArray<ProvidedTokens>, embeddings = false) =>
      Effect.uninterruptible(lm.prefill(providedRows(ring, steps), { embeddings }))
    const takeSnapshot = Effect.gen(function* () {
      return {
        ring: ring.snapshot(),
        lm: yield* lm.snapshot,
        prng: samplers.prngState,
      } satisfies LmGenSnapshot
    })
    const restoreSnapshot = (snapshot: LmGenSnapshot) =>
      Effect.gen(function* () {
        yield* lm.restore(snapshot.lm)
        ring.restore(snapshot.ring)
        samplers.prngState = snapshot.prng
      })

    const checkUser = (codes: Int32Array) =>
      codes.length === 8
        ? Effect.void
        : Effect.fail(
            new LmInputError({ field: "userCodes", reason: `expected 8 codes, found ${codes.length}` }),
          )

    const stepFrame = (userCodes: Int32Array) =>
      Effect.andThen(checkUser(userCodes), serial(step({ user: userCodes })))

    /** §5.2 TS shortcut: one temporal step per stored embedding (token inputs −1 embed to zero), then the saved ring. */
    const replay = (voice: CachedVoicePrompt) =>
      Effect.gen(function* () {
        if (voice.embeddings.length !== voice.frames * config.dim) {
          const width = voice.embeddings.length / voice.frames
          return yield* new LmInputError({
            field: "voice.embeddings",
            reason: Number.isInteger(width)
              ? `${voice.frames} frames of ${width} values (a voice made for an LM of width ${width}); this LM's width is ${config.dim}`
              : `${voice.embeddings.length} values for ${voice.frames} frames of ${config.dim}`,
          })
        }
        if (voice.cache.length !== STREAMS * 4)
          return yield* new LmInputError({
            field: "voice.cache",
            reason: `${voice.cache.length} values, expected ${STREAMS * 4}`,
          })
        const tokens = new Int32Array(STREAMS).fill(ZERO_TOKEN)
        const rows = Array.from({ length: voice.frames }, () => tokens)
        yield* Effect.uninterruptible(lm.prefill(rows, { extra: voice.embeddings }))
        ring.restoreAfterReplay(voice.frames, voice.cache)
      })

    const prompt = (system: SystemPrompt) =>
      serial(
        Effect.gen(function* () {
          const silenceFrames = system.silenceFrames ?? DEFAULT_SILENCE_FRAMES
          if (!Number.isInteger(silenceFrames) || silenceFrames < 0)
            return yield* new LmInputError({
              field: "silenceFrames",
              reason: `expected a non-negative integer, found ${silenceFrames}`,
            })
          const voice = system.voice
          const kept = voice !== undefined && lm.cheapSnapshots && afterVoice?.voice === voice
          // A sliding cache forgets its snapshots once it moves: the voice phase then runs again.
          const restored =
            kept && (yield* Effect.result(restoreSnapshot(afterVoice!.snapshot)))._tag === "Success"
          if (!restored) {
            yield* reset
            if (voice?._tag === "Audio") yield* prefill(yield* voiceSteps(voice.pcm))
            else if (voice?._tag === "Cached") yield* replay(voice)
            if (voice !== undefined && lm.cheapSnapshots)
              afterVoice = { voice, snapshot: yield* takeSnapshot }
          }
          yield* prefill(silenceAndTextSteps(system.textTokens, silenceFrames))
          // Upstream resets Mimi after the prompts whatever the voice source: the conversation starts fresh.
          yield* (yield* MimiCodec).reset
        }).pipe(
          // Stopped midway the KV cache is ahead of the token ring: leave a clean reset state instead.
          Effect.onInterrupt(() => Effect.ignore(reset)),
          timed(LmMetrics.promptMs),
        ),
      )

    const recordVoicePrompt = (pcm: Float32Array) =>
      serial(
        Effect.gen(function* () {
          yield* reset
          const embeddings = (yield* prefill(yield* voiceSteps(pcm), true))!
          return VoicePrompt.cached(embeddings, embeddings.length / config.dim, ring.cache.slice())
        }),
      )

    return LmGen.of({
      config,
      lm,
      step: (userCodes) => Effect.map(stepFrame(userCodes), (r) => r.output),
      stepFrame,
      stepProvided: (tokens) => serial(step(tokens)),
      prompt,
      recordVoicePrompt,
      reset: serial(reset),
      tokenRing: Effect.sync(() => ring.snapshot()),
      snapshot: serial(takeSnapshot),
      restore: (snapshot) => serial(restoreSnapshot(snapshot)),
    })
  })

/**
 * Upstream's LMGen with PersonaPlex prompting: the delayed token ring, teacher forcing, warm-up,
 * sampling, system prompts, over an engine (`LmEngineShape`: the two-graph `MoshiLm` or the fused step).
 */
export class LmGen extends Context.Service<LmGen, LmGenShape>()("@personaplex/lm/LmGen") {
  static readonly make = make
  static readonly makeWith = makeWith

  /**
   * A model-free LmGen for tests of code built on it: upstream's token ring, warm-up and prompt
   * phases over `scriptedMoshiLm` (default: PAD text and the silence codes every frame).
   */
  static layerTest(options: Parameters<typeof scriptedMoshiLm>[0] = {}): Layer.Layer<LmGen> {
    return Layer.effect(
      LmGen,
      makeWith(twoGraphEngine(scriptedMoshiLm(options)), { sampling: { useSampling: false } }),
    )
  }

  static layer(options: LmGenOptions): Layer.Layer<LmGen, LmError, OrtSession> {
    return Layer.effect(LmGen, make(options))
  }
}
