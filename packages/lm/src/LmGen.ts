import { type CodecError, MimiCodec } from "@personaplex/codec"
import type { OrtSession } from "@personaplex/runtime"
import { Context, Effect, Layer, type Scope, Semaphore } from "effect"
import { DEFAULT_SILENCE_FRAMES, STREAMS, ZERO_TOKEN } from "./constants.ts"
import { type LmError, LmInputError } from "./errors.ts"
import { type StepResult, stepTokens } from "./generation.ts"
import type { LmConfig } from "./LmConfig.ts"
import { MoshiLm, type MoshiLmOptions, type MoshiLmShape, type MoshiLmState } from "./MoshiLm.ts"
import { LmMetrics, timed } from "./metrics.ts"
import { silenceAndTextPhases, voicePhaseFromAudio } from "./prompts.ts"
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
  readonly lm: MoshiLmState
  readonly prng: ReadonlyArray<number>
}

export interface LmGenShape {
  readonly config: LmConfig
  /** The graphs underneath (context, quantization, depformer steps). */
  readonly lm: MoshiLmShape
  /** Feed one frame of user codes; returns the 17 output tokens, or undefined during warm-up. */
  step(userCodes: Int32Array): Effect.Effect<Int32Array | undefined, LmError>
  /** `step` with everything it computed (logits when the layer has `returnLogits`). */
  stepFrame(userCodes: Int32Array): Effect.Effect<StepResult, LmError>
  /** A step with any streams teacher-forced (what the prompt phases use). */
  stepProvided(tokens: ProvidedTokens): Effect.Effect<StepResult, LmError>
  /**
   * reset + voice phase (encodes Audio voice with MimiCodec, then resets the codec) + silence + text +
   * silence, then resets the codec (as upstream does after the prompts). Interruptible between steps.
   */
  prompt(system: SystemPrompt): Effect.Effect<void, LmError | CodecError, MimiCodec>
  /** reset + the voice phase from audio, returned as a replayable cache (save it with `saveVoicePrompt`). */
  recordVoicePrompt(pcm: Float32Array): Effect.Effect<CachedVoicePrompt, LmError | CodecError, MimiCodec>
  readonly reset: Effect.Effect<void, LmError>
  readonly tokenRing: Effect.Effect<TokenRingState>
  readonly snapshot: Effect.Effect<LmGenSnapshot>
  restore(snapshot: LmGenSnapshot): Effect.Effect<void, LmError>
}

export interface LmGenOptions extends MoshiLmOptions {
  readonly sampling?: Partial<SamplingOptions>
  /** Fetch text and audio logits on every step (`stepFrame`); costs a copy per step. */
  readonly returnLogits?: boolean
}

const make = (options: LmGenOptions): Effect.Effect<LmGenShape, LmError, OrtSession | Scope.Scope> =>
  Effect.flatMap(MoshiLm.make(options), (lm) => makeWith(lm, options))

/** LmGen over any `MoshiLmShape` (the graphs, or a stand-in for tests). */
const makeWith = (
  lm: MoshiLmShape,
  options: Pick<LmGenOptions, "sampling" | "returnLogits">,
): Effect.Effect<LmGenShape> =>
  Effect.gen(function* () {
    const config = lm.config
    const sampling: SamplingOptions = { ...defaultSampling, ...options.sampling }
    const samplers = new Samplers(sampling, config.textCard, config.card, lm.depformerSteps)
    const ring = new TokenRing(config.delays, config.textCard, config.card)
    const returnLogits = options.returnLogits ?? false
    const lock = yield* Semaphore.make(1)
    const serial = lock.withPermits(1)

    const step = (tokens: ProvidedTokens) => stepTokens(lm, ring, samplers, tokens, returnLogits)
    const reset = Effect.gen(function* () {
      ring.reset()
      yield* lm.reset
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
        if (voice.embeddings.length !== voice.frames * config.dim)
          return yield* new LmInputError({
            field: "voice.embeddings",
            reason: `${voice.embeddings.length} values for ${voice.frames} frames of ${config.dim}`,
          })
        if (voice.cache.length !== STREAMS * 4)
          return yield* new LmInputError({
            field: "voice.cache",
            reason: `${voice.cache.length} values, expected ${STREAMS * 4}`,
          })
        const tokens = new Int32Array(STREAMS).fill(ZERO_TOKEN)
        for (let i = 0; i < voice.frames; i++)
          yield* Effect.uninterruptible(
            lm.temporal({
              tokens,
              extraEmbedding: voice.embeddings.subarray(i * config.dim, (i + 1) * config.dim),
              text: samplers.text(),
            }),
          )
        ring.restoreAfterReplay(voice.frames, voice.cache)
      }).pipe(
        // Stopped midway the KV ring is ahead of the token ring: leave a clean reset state instead.
        Effect.onInterrupt(() => reset),
      )

    const prompt = (system: SystemPrompt) =>
      serial(
        Effect.gen(function* () {
          const silenceFrames = system.silenceFrames ?? DEFAULT_SILENCE_FRAMES
          if (!Number.isInteger(silenceFrames) || silenceFrames < 0)
            return yield* new LmInputError({
              field: "silenceFrames",
              reason: `expected a non-negative integer, found ${silenceFrames}`,
            })
          yield* reset
          if (system.voice?._tag === "Audio") yield* voicePhaseFromAudio(system.voice.pcm, step)
          else if (system.voice?._tag === "Cached") yield* replay(system.voice)
          yield* silenceAndTextPhases(system.textTokens, silenceFrames, step)
          // Upstream resets Mimi after the prompts whatever the voice source: the conversation starts fresh.
          yield* (yield* MimiCodec).reset
        }).pipe(timed(LmMetrics.promptMs)),
      )

    const recordVoicePrompt = (pcm: Float32Array) =>
      serial(
        Effect.gen(function* () {
          yield* reset
          const embeddings = yield* voicePhaseFromAudio(pcm, step)
          const flat = new Float32Array(embeddings.length * config.dim)
          for (const [i, e] of embeddings.entries()) flat.set(e, i * config.dim)
          return VoicePrompt.cached(flat, embeddings.length, ring.cache.slice())
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
      snapshot: serial(
        Effect.gen(function* () {
          return { ring: ring.snapshot(), lm: yield* lm.snapshot, prng: samplers.prngState }
        }),
      ),
      restore: (snapshot) =>
        serial(
          Effect.gen(function* () {
            yield* lm.restore(snapshot.lm)
            ring.restore(snapshot.ring)
            samplers.prngState = snapshot.prng
          }),
        ),
    })
  })

/**
 * Upstream's LMGen with PersonaPlex prompting: the delayed token ring, teacher forcing, warm-up,
 * sampling, system prompts, over the `MoshiLm` graphs.
 */
export class LmGen extends Context.Service<LmGen, LmGenShape>()("@personaplex/lm/LmGen") {
  static readonly make = make
  static readonly makeWith = makeWith

  /**
   * A model-free LmGen for tests of code built on it: upstream's token ring, warm-up and prompt
   * phases over `scriptedMoshiLm` (default: PAD text and the silence codes every frame).
   */
  static layerTest(options: Parameters<typeof scriptedMoshiLm>[0] = {}): Layer.Layer<LmGen> {
    return Layer.effect(LmGen, makeWith(scriptedMoshiLm(options), { sampling: { useSampling: false } }))
  }

  static layer(options: LmGenOptions): Layer.Layer<LmGen, LmError, OrtSession> {
    return Layer.effect(LmGen, make(options))
  }
}
