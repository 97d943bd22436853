import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  FRAME_SIZE,
  type GraphForms,
  MimiCodec,
  type MimiCodecShape,
  SAMPLE_RATE,
  writeRandomMimiCheckpoint,
} from "@personaplex/codec"
import {
  type GpuPrecision,
  type KvCacheType,
  LmGen,
  lmCheckpointTensors,
  parameterCount,
  type Quantization,
  SILENCE_TOKENS,
  SINE_TOKENS,
  TEXT_PAD,
  VoicePrompt,
  writeRandomLmCheckpoint,
} from "@personaplex/lm"
import { type ExecutionProvider, makeRng, OrtSession, type WebGpuOptions } from "@personaplex/runtime"
import { Context, Effect, Layer } from "effect"
import { BENCH_MODELS, type BenchModels } from "./configs.ts"
import { type GpuMemorySampler, startGpuMemorySampler } from "./gpuMemory.ts"
import { findProfile, type ProfileSummary, summarizeProfile } from "./profile.ts"
import { renderTable } from "./report.ts"

export interface BenchOptions {
  readonly provider: ExecutionProvider
  readonly models: BenchModels["name"]
  readonly precisions: ReadonlyArray<GpuPrecision>
  readonly contexts: ReadonlyArray<number>
  /** Measured frames per configuration and schedule, after `warmup` frames. */
  readonly frames: number
  readonly warmup: number
  /** Repetitions of the restart (restore + batched text prompt). */
  readonly restarts: number
  /**
   * Folder for the random checkpoints and the engine's converted weights (`LmGenOptions.cacheDir`
   * under `converted/`, emptied before and after each precision; needs room for the real model: ~30 GB).
   */
  readonly workDir: string
  /** JSON report path (rewritten after every configuration). */
  readonly out: string
  /** Conversion worker threads (0: on the main thread; `LmGenOptions.convertWorkers`). */
  readonly workers: number
  readonly intraOpThreads?: number
  /**
   * Provider of the agent's Mimi sessions in the frame (default: `provider`). `auto`: time Mimi alone
   * on `provider` (CPU fallback disabled) and on the CPU, and use the one that adds less to the frame
   * (encode + the decodes on the critical path: one in the `overlapped` schedule, which needs the user
   * decode off the LM's GPU, two otherwise).
   */
  readonly codecProvider?: ExecutionProvider | "auto"
  /**
   * Provider of the codec that decodes the user's stream. Default: the CPU beside a GPU LM, where the
   * `overlapped` schedule hides the user decode behind the LM step; the codec provider otherwise.
   */
  readonly userCodecProvider?: ExecutionProvider
  /** Intra-op threads of the Mimi sessions (CPU provider). */
  readonly codecThreads?: number
  /**
   * Whether the Mimi sessions' idle threads spin for work (default false; onnxruntime's own default
   * is true). Spinning threads take host time from the GPU LM's dispatch and from the other codec:
   * on the H100 machine spinning made the frame 114 ms instead of 76 ms (RESULTS.md, run 8).
   */
  readonly codecSpinning?: boolean
  /** The Mimi graphs' forms (`MimiCodecOptions.graphForms`; default by each codec's provider). */
  readonly codecForms?: GraphForms
  /** Mimi on WebGPU replays captured graphs (`MimiCodecOptions.graphCapture`; default true). */
  readonly codecGraphCapture?: boolean
  /** Depformer steps run per frame: 8 (agent codebooks, what the loop uses) or 16 (upstream). */
  readonly depformerSteps: 8 | 16
  /**
   * Slots of the fused engine's KV cache (`LmGenOptions.maxFrames`). Default: the engine's (the larger
   * of the context and 1024: a sliding window below that). `context`: as many as the context, so the
   * cache holds `context` frames after a prompt and measured frames past that restart the prompt.
   */
  readonly maxFrames?: number | "context"
  /** Configurations not started after this many seconds are skipped (reported as such). */
  readonly deadlineSeconds?: number
  /**
   * LM forms measured one after the other for each precision and context, on the same machine in
   * the same process (default: `gqa`).
   */
  readonly variants?: ReadonlyArray<LmVariant>
  /**
   * Record onnxruntime's profile of the agent codec's sessions into this folder and break their median
   * runs down by operator in the report (`codecProfile`; the LM's sessions are `LmGen`'s and are not
   * profiled). Profiling slows every run: such a run's timings are not comparable.
   */
  readonly profileDir?: string
  /**
   * How the frame's stages run, measured frame by frame in turn (default: `overlapped`, then
   * `sequential`); the run's headline figures are the first schedule's. See `FrameSchedule`.
   */
  readonly schedules?: ReadonlyArray<FrameSchedule>
  /** WebGPU provider settings of every session (LM and Mimi), e.g. `{ validationMode: "disabled" }`. */
  readonly webGpu?: WebGpuOptions
  /** The command line, recorded in the report. */
  readonly command?: string
  readonly log?: (line: string) => void
}

/**
 * `sequential`: encode, LM step, agent decode, user decode, each after the other (upstream's loop).
 * `overlapped`: the user stream's decode (which needs only this frame's encoded input) runs in its
 * own worker during the LM step; the agent's decode follows the step. Same work, same outputs.
 */
export type FrameSchedule = "overlapped" | "sequential"

export const FRAME_SCHEDULES: ReadonlyArray<FrameSchedule> = ["overlapped", "sequential"]

/** One schedule's per-frame figures. */
export interface FrameFigures {
  readonly encodeMs: Summary
  readonly lmStepMs: Summary
  /** The agent's decode. */
  readonly decodeMs: Summary
  readonly userDecodeMs: Summary
  /** Wall time of the whole frame: encode + LM step + both decodes. */
  readonly frameMs: Summary
  /** Wall time until the agent's audio is decoded (what the loop waits for). */
  readonly frameOneDecodeMs: Summary
  /** The slowest frame (its index among this schedule's measured frames) and its stages: where a p99 comes from. */
  readonly slowest?: {
    readonly frame: number
    readonly encodeMs: number
    readonly lmStepMs: number
    readonly decodeMs: number
    readonly userDecodeMs: number
    readonly frameMs: number
  }
}

/**
 * How the fused engine runs (its attention is always the `gqa` cache): the KV cache's element type
 * (`LmGenOptions.kvCache`, default float16) and whether steps replay a captured WebGPU graph
 * (`LmGenOptions.graphCapture`, default false).
 */
export interface LmVariant {
  readonly kvCache?: KvCacheType
  readonly graphCapture?: boolean
  /** int8/int4: int8 activations too (`LmGenOptions.int8Activations`). */
  readonly int8Activations?: boolean
}

export const VARIANTS: Record<string, LmVariant> = {
  gqa: {},
  "gqa-capture": { graphCapture: true },
  "gqa-capture-a8": { graphCapture: true, int8Activations: true },
  "gqa-f32": { kvCache: "float32" },
  "gqa-f32-capture": { kvCache: "float32", graphCapture: true },
}

/**
 * `gqa`, `gqa-capture` (WebGPU graph capture), `gqa-capture-a8` (and int8 activations), `gqa-f32` (float32
 * KV cache) or `gqa-f32-capture` (the CLI's `--variants`).
 */
export const parseVariant = (text: string): LmVariant => {
  const variant = VARIANTS[text]
  if (!variant) throw new Error(`unknown LM variant "${text}" (${Object.keys(VARIANTS).join(", ")})`)
  return variant
}

export const variantName = (v: LmVariant): string =>
  [
    "gqa",
    ...(v.kvCache === "float32" ? ["f32"] : []),
    ...(v.graphCapture ? ["capture"] : []),
    ...(v.int8Activations ? ["a8"] : []),
  ].join("-")

/** What runs without `variants`: on WebGPU the captured step (the fastest measured, run 12), else `gqa`. */
export const defaultVariants = (provider: ExecutionProvider): ReadonlyArray<LmVariant> =>
  provider === "webgpu" ? [VARIANTS["gqa-capture"]!] : [VARIANTS.gqa!]

export interface MimiAlone {
  readonly encodeMs: Summary
  readonly decodeMs: Summary
  readonly loadMs: number
  /** False when the sessions were created with the CPU fallback disabled (every node on the provider). */
  readonly cpuFallbackAllowed: boolean
}

export interface Summary {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
  readonly min: number
  readonly n: number
}

export interface RunResult {
  readonly precision: GpuPrecision
  readonly context: number
  /** The LM form asked for (`variantName`). */
  readonly variant: string
  readonly status: "ok" | "failed" | "skipped"
  readonly error?: string
  /** The engine that ran (`gen.lm.form`): `fused`. */
  readonly engine?: string
  readonly kvCache?: KvCacheType
  /** Steps replayed a captured graph (the setting passed to `LmGen`). */
  readonly graphCapture?: boolean
  /** Frames the KV cache holds after a reset (`gen.lm.capacity`); absent when it slides. */
  readonly capacity?: number
  /** Whether `LmGen.make` converted the weights (`built`) or found them in the cache (`cache`). */
  readonly graphSource?: "built" | "cache"
  /** Bytes of the converted weights in the cache folder. */
  readonly weightsBytes?: number
  /** With `graphSource: built`: from `LmGen.make`'s start to the conversion's last progress report. */
  readonly convertMs?: number
  /** `LmGen.make` in all (conversion when not cached, graph, session: the weights to the device). */
  readonly makeMs?: number
  /** `makeMs` less `convertMs`: the graph and the session. */
  readonly openMs?: number
  /** The frames from the first after `LmGen.make` to the first that gives tokens (warm-up frames give none). */
  readonly firstFrameMs?: number
  /** `LmGen.make` + the frames until the first tokens. */
  readonly timeToFirstFrameMs?: number
  readonly warmupMs?: number
  readonly encodeMs?: Summary
  readonly lmStepMs?: Summary
  readonly decodeMs?: Summary
  /** Wall time of encode + LM step + two decodes (agent and user streams, as upstream's figure). */
  readonly frameMs?: Summary
  /** Wall time of encode + LM step + the agent's decode (what the loop needs). */
  readonly frameOneDecodeMs?: Summary
  /** The schedule of the figures above. */
  readonly schedule?: FrameSchedule
  /** Every measured schedule's figures (frames alternate between them). */
  readonly schedules?: Partial<Record<FrameSchedule, FrameFigures>>
  /** `gen.reset`. */
  readonly resetMs?: number
  /** The first `gen.prompt` with a cached voice: reset, voice replay, silence + text + silence, each batched. */
  readonly systemPromptMs?: number
  /** Rows the prompt runs: the voice's frames, then silence, text and silence. */
  readonly promptFrames?: number
  /** `gen.prompt` again with the same voice: restore the state after the voice + silence, text and silence prefilled. */
  readonly restartMs?: Summary
  /** The same restart with silence, text and silence one `gen.stepProvided` at a time. */
  readonly restartPerTokenMs?: number
  /** Restarts (`gen.prompt`) between measured frames because the cache was full (not timed in the frames). */
  readonly cacheRestarts?: number
  readonly peakGpuMiB?: number
  readonly gpuMiBBefore?: number
  readonly peakRssMiB?: number
}

export interface BenchReport {
  readonly benchmark: "personaplex-realtime"
  readonly date: string
  readonly command?: string
  readonly provider: ExecutionProvider
  readonly models: BenchModels["name"]
  readonly lmParameters: number
  readonly mimiParameters: number
  readonly depformerSteps: number
  readonly frames: number
  readonly warmup: number
  readonly host: {
    readonly cores: number
    readonly cpu?: string
    readonly memoryGiB: number
    readonly node: string
  }
  readonly checkpointMs: number
  readonly checkpointBytes: number
  readonly mimiLoadMs?: number
  readonly codecProvider: ExecutionProvider
  /** The user decode's codec, where it differs from `codecProvider`. */
  readonly userCodecProvider?: ExecutionProvider
  /** Mimi on WebGPU replays captured graphs (the setting; it applies to a WebGPU codec). */
  readonly codecGraphCapture?: boolean
  /** The Mimi graphs' forms, where set. */
  readonly codecForms?: GraphForms
  /** Mimi alone on `provider` when the frame used another provider for it (30 frames). */
  readonly mimiOnProvider?: MimiAlone
  /** `codecProvider: auto`: Mimi alone (30 frames) on each candidate provider, or why it failed. */
  readonly mimiCandidates?: Record<string, MimiAlone | { readonly error: string }>
  /** With `profileDir`: the agent codec's sessions, profiled over the whole benchmark. */
  readonly codecProfile?: { readonly encode?: ProfileSummary; readonly decode?: ProfileSummary }
  readonly upstream: typeof UPSTREAM
  readonly runs: RunResult[]
}

/** Upstream PersonaPlex (PyTorch, CUDA graphs, bf16, context 3000, random weights) on an H100 80GB. */
export const UPSTREAM = {
  frameMs: { p50: 39.7, p99: 63.8, max: 93.8 },
  lmStepMs: { p50: 22.0 },
  encodeMs: { p50: 6.5 },
  peakGpuGiB: 20.5,
  systemPromptMs: 3260,
  promptFrames: 125,
  warmupMs: 28000,
  floorMs: { bf16: 5.6, int8: 2.8, int4: 1.4 },
} as const

export const summarize = (xs: ReadonlyArray<number>): Summary => {
  const sorted = [...xs].sort((a, b) => a - b)
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
  return {
    p50: at(50),
    p99: at(99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
    mean: xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length),
    n: xs.length,
  }
}

/** Speech-like input: a few harmonics with a slow envelope plus noise. */
const inputFrame = (t: number, rng: () => number) =>
  Float32Array.from({ length: FRAME_SIZE }, (_, i) => {
    const time = (t * FRAME_SIZE + i) / SAMPLE_RATE
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * time)
    return 0.2 * envelope * Math.sin(2 * Math.PI * 180 * time) + 0.01 * rng()
  })

/**
 * Embeddings the benchmark's cached voice stores: 5 s of voice (upstream-spec §5), less the first frame
 * after a reset, which never reaches the model. Then 50 text tokens between two silences.
 */
const VOICE_FRAMES = Math.ceil(5 * 12.5) - 1
const TEXT_TOKENS = 50
const SILENCE_FRAMES = 6

/**
 * The system prompt: a cached voice of random input embeddings and a valid token ring after it (text
 * padding, random audio codes), and random text tokens.
 */
export const systemPrompt = (models: BenchModels, rng: () => number) => {
  const { card, textCard, dim, existingTextPaddingId } = models.lm
  const uniform = (n: number) => Math.min(n - 1, Math.floor(((rng() + 1) / 2) * n))
  const embeddings = Float32Array.from({ length: VOICE_FRAMES * dim }, () => 0.02 * rng())
  // The token ring [17, 4] after the voice phase: text padding, then the agent's and user's codes.
  const cache = Int32Array.from({ length: 17 * 4 }, (_, i) => (i < 4 ? existingTextPaddingId : uniform(card)))
  const voice = VoicePrompt.cached(embeddings, VOICE_FRAMES, cache)
  const textTokens = Int32Array.from({ length: TEXT_TOKENS }, () => 4 + uniform(textCard - 4))
  return { voice, textTokens }
}

const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const value = yield* self
    return [value, performance.now() - t0] as const
  })

/** The engine's quantization for a precision (`none` runs float32). */
const QUANTIZATION: Record<GpuPrecision, Quantization> = {
  float32: "none",
  float16: "float16",
  int8: "int8",
  int4: "int4",
}

/** Bytes of the files under `dir`. */
const dirBytes = (dir: string): number =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0)
    : 0

/** The agent's codec (encode, then decode of the LM's tokens) and the user stream's, each in its own worker. */
interface Codecs {
  readonly agent: MimiCodecShape
  readonly user: MimiCodecShape
}

interface Checkpoints {
  readonly lm: string
  /** The engine's converted weights (`LmGenOptions.cacheDir`). */
  readonly cacheDir: string
}

const measure = (
  options: BenchOptions,
  models: BenchModels,
  codecs: Codecs,
  checkpoints: Checkpoints,
  precision: GpuPrecision,
  context: number,
  variant: LmVariant,
  schedules: ReadonlyArray<FrameSchedule>,
  memory: GpuMemorySampler,
) =>
  Effect.gen(function* () {
    const log = options.log ?? (() => {})
    const rng = makeRng(context)
    memory.mark()
    const gpuBefore = memory.currentMiB()
    let rss = process.memoryUsage().rss
    const tLoad = performance.now()
    let convertedAt: number | undefined
    const gen = yield* LmGen.make({
      checkpoint: checkpoints.lm,
      config: models.lm,
      context,
      quantization: QUANTIZATION[precision],
      depformerSteps: options.depformerSteps,
      engine: "fused",
      cacheDir: checkpoints.cacheDir,
      convertWorkers: options.workers,
      kvCache: variant.kvCache ?? "float16",
      graphCapture: variant.graphCapture ?? false,
      ...(variant.int8Activations ? { int8Activations: true } : {}),
      ...(options.maxFrames === undefined
        ? {}
        : { maxFrames: options.maxFrames === "context" ? context : options.maxFrames }),
      onConvertProgress: (done, total) => {
        if (done >= total) convertedAt = performance.now()
      },
    })
    const makeMs = performance.now() - tLoad
    const built = gen.lm.graphSource === "built"
    const convertMs = built && convertedAt !== undefined ? convertedAt - tLoad : undefined
    const openMs = makeMs - (convertMs ?? 0)
    const weightsBytes = dirBytes(checkpoints.cacheDir)
    log(
      `  LmGen (${gen.lm.form}, weights ${built ? "converted" : "from the cache"}${gen.lm.capacity === undefined ? ", sliding cache" : `, capacity ${gen.lm.capacity}`}): ${makeMs.toFixed(0)} ms${convertMs === undefined ? "" : ` (conversion ${convertMs.toFixed(0)} ms)`}`,
    )
    const silence = new Float32Array(FRAME_SIZE)
    /** The product's frame (`processFrame`): encode, LM step, agent decode; the user's decode besides. */
    const frame = (t: number, schedule: FrameSchedule) =>
      Effect.gen(function* () {
        const start = performance.now()
        const [codes, encodeMs] = yield* timed(codecs.agent.encode(inputFrame(t, rng)))
        const lmStep = timed(gen.step(codes))
        const userDecode = timed(codecs.user.decode(codes))
        const agentDecode = (tokens: Int32Array | undefined) =>
          Effect.map(
            timed(tokens === undefined ? Effect.succeed(silence) : codecs.agent.decode(tokens.slice(1, 9))),
            ([, ms]) => [ms, performance.now()] as const,
          )
        let tokens: Int32Array | undefined
        let lmMs: number
        let userDecodeMs: number
        let decodeMs: number
        let agentDoneAt: number
        if (schedule === "overlapped") {
          ;[[tokens, lmMs], [, userDecodeMs]] = yield* Effect.all([lmStep, userDecode], { concurrency: 2 })
          ;[decodeMs, agentDoneAt] = yield* agentDecode(tokens)
        } else {
          ;[tokens, lmMs] = yield* lmStep
          ;[decodeMs, agentDoneAt] = yield* agentDecode(tokens)
          ;[, userDecodeMs] = yield* userDecode
        }
        const frameMs = performance.now() - start
        rss = Math.max(rss, process.memoryUsage().rss)
        return {
          tokens,
          stages: { encodeMs, lmMs, decodeMs, userDecodeMs, frameMs, oneDecodeMs: agentDoneAt - start },
        }
      })
    // The first frames after LmGen.make are warm-up frames (no tokens); the first with tokens ends the start.
    const tFirst = performance.now()
    let t = 0
    while ((yield* frame(t++, schedules[0]!)).tokens === undefined && t < 10) {}
    const firstFrameMs = performance.now() - tFirst
    const timeToFirstFrameMs = performance.now() - tLoad
    log(
      `  ${t} frames to the first tokens in ${firstFrameMs.toFixed(0)} ms; time to first frame ${timeToFirstFrameMs.toFixed(0)} ms`,
    )
    const tWarm = performance.now()
    for (let i = 0; i < options.warmup; i++, t++) yield* frame(t, schedules[t % schedules.length]!)
    const warmupMs = performance.now() - tWarm + firstFrameMs

    const system = systemPrompt(models, rng)
    const prompt = gen.prompt(system).pipe(Effect.provideService(MimiCodec, codecs.agent))
    const [, resetMs] = yield* timed(gen.reset)
    const [, systemPromptMs] = yield* timed(prompt)
    const restarts: number[] = []
    for (let i = 0; i < options.restarts; i++) restarts.push((yield* timed(prompt))[1])
    log(
      `  system prompt ${systemPromptMs.toFixed(0)} ms; restart p50 ${summarize(restarts).p50.toFixed(1)} ms; reset ${resetMs.toFixed(1)} ms`,
    )
    yield* prompt
    let cacheRestarts = 0
    type Sample = Effect.Success<ReturnType<typeof frame>>["stages"]
    const samples = new Map<FrameSchedule, Sample[]>(schedules.map((s) => [s, []]))
    for (let i = 0; i < options.frames * schedules.length; i++) {
      // The loop's own answer to a full cache: back to the prompts (untimed here, measured above).
      if (gen.lm.capacity !== undefined && (yield* gen.lm.position) >= gen.lm.capacity) {
        yield* prompt
        cacheRestarts++
      }
      const schedule = schedules[i % schedules.length]!
      samples.get(schedule)!.push((yield* frame(t++, schedule)).stages)
    }
    // The restart with the prompt's rows one step each: restore the voice's state, then step them.
    const perToken = [
      ...Array.from({ length: SILENCE_FRAMES }, () => TEXT_PAD),
      ...system.textTokens,
      ...Array.from({ length: SILENCE_FRAMES }, () => TEXT_PAD),
    ]
    const [, restartPerTokenMs] = yield* timed(
      Effect.gen(function* () {
        yield* gen
          .prompt({ voice: system.voice, textTokens: new Int32Array(0), silenceFrames: 0 })
          .pipe(Effect.provideService(MimiCodec, codecs.agent))
        for (const text of perToken)
          yield* gen.stepProvided({ user: SINE_TOKENS, agent: SILENCE_TOKENS, text })
      }),
    )
    const figures = (frames: ReadonlyArray<Sample>): FrameFigures => {
      const of = (key: keyof Sample) => summarize(frames.map((f) => f[key]))
      const slowest = frames.reduce((worst, f, i) => (f.frameMs > frames[worst]!.frameMs ? i : worst), 0)
      const s = frames[slowest]!
      return {
        slowest: {
          frame: slowest,
          encodeMs: s.encodeMs,
          lmStepMs: s.lmMs,
          decodeMs: s.decodeMs,
          userDecodeMs: s.userDecodeMs,
          frameMs: s.frameMs,
        },
        encodeMs: of("encodeMs"),
        lmStepMs: of("lmMs"),
        decodeMs: of("decodeMs"),
        userDecodeMs: of("userDecodeMs"),
        frameMs: of("frameMs"),
        frameOneDecodeMs: of("oneDecodeMs"),
      }
    }
    const bySchedule = Object.fromEntries(
      schedules.map((s) => [s, figures(samples.get(s)!)] as const),
    ) as Partial<Record<FrameSchedule, FrameFigures>>
    const headline = bySchedule[schedules[0]!]!
    const peak = memory.peakMiB()
    const result: RunResult = {
      precision,
      context,
      variant: variantName(variant),
      status: "ok",
      engine: gen.lm.form,
      kvCache: variant.kvCache ?? "float16",
      graphCapture: variant.graphCapture ?? false,
      ...(gen.lm.capacity === undefined ? {} : { capacity: gen.lm.capacity }),
      graphSource: gen.lm.graphSource,
      weightsBytes,
      ...(convertMs === undefined ? {} : { convertMs }),
      makeMs,
      openMs,
      firstFrameMs,
      timeToFirstFrameMs,
      warmupMs,
      encodeMs: headline.encodeMs,
      lmStepMs: headline.lmStepMs,
      decodeMs: headline.decodeMs,
      frameMs: headline.frameMs,
      frameOneDecodeMs: headline.frameOneDecodeMs,
      schedule: schedules[0]!,
      schedules: bySchedule,
      resetMs,
      systemPromptMs,
      promptFrames: VOICE_FRAMES + 2 * SILENCE_FRAMES + TEXT_TOKENS,
      restartMs: summarize(restarts),
      restartPerTokenMs,
      cacheRestarts,
      ...(peak === undefined ? {} : { peakGpuMiB: peak }),
      ...(gpuBefore === undefined ? {} : { gpuMiBBefore: gpuBefore }),
      peakRssMiB: rss / 2 ** 20,
    }
    return result
  }).pipe(Effect.scoped)

/**
 * Generate random weights of the chosen size on disk (upstream names) and measure, through `LmGen`
 * (the fused engine, which converts the weights per precision) and `MimiCodec` as the loop runs them,
 * the whole frame (Mimi encode, LM step, two Mimi decodes), time to first frame, peak memory, the
 * system prompt and the restart pause, on one execution provider. Writes the JSON report
 * after every configuration and returns it.
 */
export const runBench = async (options: BenchOptions): Promise<BenchReport> => {
  const log = options.log ?? ((line: string) => console.log(line))
  const started = performance.now()
  const models = BENCH_MODELS[options.models]
  const variants = options.variants ?? defaultVariants(options.provider)
  fs.mkdirSync(options.workDir, { recursive: true })
  if (options.profileDir) fs.mkdirSync(options.profileDir, { recursive: true })
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true })
  const lmFile = path.join(options.workDir, "lm-random.safetensors")
  const mimiFile = path.join(options.workDir, "mimi-random.safetensors")
  const cacheDir = path.join(options.workDir, "converted")
  const shapes = lmCheckpointTensors(models.lm)
  let t0 = performance.now()
  const written = writeRandomLmCheckpoint(lmFile, shapes)
  const checkpointMs = performance.now() - t0
  const mimiParameters = writeRandomMimiCheckpoint(mimiFile, models.mimi).parameters
  log(
    `random LM checkpoint: ${(parameterCount(shapes) / 1e9).toFixed(3)} B parameters, ${(written.bytes / 1e9).toFixed(2)} GB in ${checkpointMs.toFixed(0)} ms; Mimi ${(mimiParameters / 1e6).toFixed(1)} M parameters`,
  )
  const report: BenchReport = {
    benchmark: "personaplex-realtime",
    date: new Date().toISOString(),
    ...(options.command ? { command: options.command } : {}),
    provider: options.provider,
    models: models.name,
    lmParameters: written.parameters,
    mimiParameters,
    depformerSteps: options.depformerSteps,
    frames: options.frames,
    warmup: options.warmup,
    host: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: os.totalmem() / 2 ** 30,
      node: process.version,
    },
    checkpointMs,
    checkpointBytes: written.bytes,
    codecProvider:
      options.codecProvider === undefined || options.codecProvider === "auto"
        ? options.provider
        : options.codecProvider,
    ...(options.codecGraphCapture !== false ? { codecGraphCapture: true } : {}),
    ...(options.codecForms ? { codecForms: options.codecForms } : {}),
    upstream: UPSTREAM,
    runs: [],
  }
  const save = () => fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`)
  save()
  const memory = startGpuMemorySampler()
  const webGpu = options.webGpu ? { webGpu: options.webGpu } : {}
  const ortLayer = OrtSession.layer({
    executionProviders: [options.provider],
    ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
    ...webGpu,
  })
  const fallbackAllowed = new Map<ExecutionProvider, boolean>()
  const codecProfilePrefix = options.profileDir ? path.join(options.profileDir, "mimi-agent") : undefined
  const codecOptions = (provider: ExecutionProvider, profileFilePrefix?: string) => ({
    ...(profileFilePrefix ? { profileFilePrefix } : {}),
    ...(options.codecForms ? { graphForms: options.codecForms } : {}),
    checkpoint: mimiFile,
    config: models.mimi,
    executionProviders: [provider],
    ...(provider === "cpu" && options.codecThreads ? { intraOpThreads: options.codecThreads } : {}),
    ...(provider !== "cpu" && fallbackAllowed.get(provider) !== true ? { disableCpuFallback: true } : {}),
    ...(provider === "webgpu" && options.codecGraphCapture !== false ? { graphCapture: true } : {}),
  })
  /** A codec in a worker of its own, so that it can run beside the LM and the other codec. */
  const codecLayer = (provider: ExecutionProvider, profileFilePrefix?: string) =>
    MimiCodec.layer(codecOptions(provider, profileFilePrefix)).pipe(
      Layer.provide(
        OrtSession.layer({
          executionProviders: [provider],
          ...webGpu,
          intraOpSpinning: options.codecSpinning ?? false,
        }),
      ),
    )
  const timeMimi = (provider: ExecutionProvider) =>
    Effect.gen(function* () {
      const t = performance.now()
      const codec = Context.get(yield* Layer.build(codecLayer(provider)), MimiCodec)
      const loadMs = performance.now() - t
      const rng = makeRng(3)
      const encodeMs: number[] = []
      const decodeMs: number[] = []
      for (let i = 0; i < 35; i++) {
        const [codes, e] = yield* timed(codec.encode(inputFrame(i, rng)))
        const [, d] = yield* timed(codec.decode(codes))
        if (i >= 5) {
          encodeMs.push(e)
          decodeMs.push(d)
        }
      }
      return {
        encodeMs: summarize(encodeMs),
        decodeMs: summarize(decodeMs),
        loadMs,
        cpuFallbackAllowed: provider !== "cpu" && fallbackAllowed.get(provider) === true,
      } satisfies MimiAlone
    }).pipe(Effect.scoped)
  /** Mimi alone on `provider`; if a node lacks a kernel there, again with the CPU fallback allowed. */
  const mimiAlone = (provider: ExecutionProvider) =>
    timeMimi(provider).pipe(
      Effect.catch((error) =>
        provider === "cpu"
          ? Effect.fail(error)
          : Effect.suspend(() => {
              log(`Mimi on ${provider} with the CPU fallback disabled failed: ${error.message}`)
              fallbackAllowed.set(provider, true)
              return timeMimi(provider)
            }),
      ),
    )
  const logMimi = (provider: ExecutionProvider, m: MimiAlone) =>
    log(
      `Mimi alone on ${provider}${m.cpuFallbackAllowed ? " (CPU fallback allowed)" : ""}: encode p50 ${m.encodeMs.p50.toFixed(1)} ms, decode p50 ${m.decodeMs.p50.toFixed(1)} ms`,
    )
  const askedSchedules = options.schedules ?? FRAME_SCHEDULES
  /**
   * Whether the `overlapped` schedule can run with the user decode on `userProvider`: the GPU
   * provider's device context is one per process, so a GPU codec never runs beside a GPU LM.
   */
  const canOverlap = (userProvider: ExecutionProvider) => userProvider === "cpu" || options.provider === "cpu"
  const userProviderBeside = (codecProvider: ExecutionProvider): ExecutionProvider =>
    options.userCodecProvider ?? (options.provider === "cpu" ? codecProvider : "cpu")
  /** Mimi's share of the frame's critical path: the user decode hides behind the LM step when overlapped. */
  const frameCost = (provider: ExecutionProvider, m: MimiAlone) => {
    const overlaps = askedSchedules[0] === "overlapped" && canOverlap(userProviderBeside(provider))
    return m.encodeMs.p50 + (overlaps ? 1 : 2) * m.decodeMs.p50
  }
  const program = Effect.gen(function* () {
    let codecProvider: ExecutionProvider =
      options.codecProvider === "auto" ? options.provider : (options.codecProvider ?? options.provider)
    if (options.codecProvider === "auto") {
      const candidates: Record<string, MimiAlone | { readonly error: string }> = {}
      let best: { provider: ExecutionProvider; cost: number } | undefined
      for (const provider of [...new Set<ExecutionProvider>([options.provider, "cpu"])]) {
        const alone = yield* Effect.result(mimiAlone(provider))
        if (alone._tag === "Success") {
          candidates[provider] = alone.success
          logMimi(provider, alone.success)
          const cost = frameCost(provider, alone.success)
          if (!best || cost < best.cost) best = { provider, cost }
        } else {
          candidates[provider] = { error: alone.failure.message.slice(0, 2000) }
          log(`Mimi alone on ${provider} failed: ${alone.failure.message}`)
        }
      }
      codecProvider = best?.provider ?? options.provider
      ;(report as { mimiCandidates?: BenchReport["mimiCandidates"] }).mimiCandidates = candidates
      ;(report as { codecProvider: ExecutionProvider }).codecProvider = codecProvider
      log(`Mimi in the frame: ${codecProvider} (its share of the frame's critical path the lowest)`)
      save()
    } else if (codecProvider !== options.provider) {
      const alone = yield* Effect.result(mimiAlone(options.provider))
      if (alone._tag === "Success") {
        ;(report as { mimiOnProvider?: BenchReport["mimiOnProvider"] }).mimiOnProvider = alone.success
        logMimi(options.provider, alone.success)
      } else log(`Mimi alone on ${options.provider} failed: ${alone.failure.message}`)
      save()
    }
    t0 = performance.now()
    const userProvider = userProviderBeside(codecProvider)
    if (userProvider !== codecProvider)
      (report as { userCodecProvider?: ExecutionProvider }).userCodecProvider = userProvider
    const agent = Context.get(yield* Layer.build(codecLayer(codecProvider, codecProfilePrefix)), MimiCodec)
    const user = Context.get(yield* Layer.build(codecLayer(userProvider)), MimiCodec)
    const allowed = askedSchedules.filter((s) => s === "sequential" || canOverlap(userProvider))
    const schedules: ReadonlyArray<FrameSchedule> = allowed.length > 0 ? allowed : ["sequential"]
    if (schedules.join() !== askedSchedules.join())
      log(
        `frame schedules: ${schedules.join(", ")} (overlapped needs the user decode on the CPU beside a GPU LM)`,
      )
    ;(report as { mimiLoadMs?: number }).mimiLoadMs = performance.now() - t0
    log(`Mimi: two codecs opened in ${(performance.now() - t0).toFixed(0)} ms`)
    for (const precision of options.precisions) {
      const late = () =>
        options.deadlineSeconds !== undefined &&
        (performance.now() - started) / 1000 > options.deadlineSeconds
      const unrun = (
        contexts: ReadonlyArray<number>,
        status: "skipped" | "failed",
        error: string,
        which: ReadonlyArray<LmVariant> = variants,
      ) => {
        for (const context of contexts)
          for (const variant of which)
            report.runs.push({ precision, context, variant: variantName(variant), status, error })
        save()
      }
      if (late()) {
        unrun(options.contexts, "skipped", "deadline reached before it started")
        continue
      }
      // A cold cache for the precision's first configuration: its LmGen.make converts the weights.
      fs.rmSync(cacheDir, { recursive: true, force: true })
      for (const context of options.contexts)
        for (const variant of variants) {
          if (late()) {
            unrun([context], "skipped", "deadline reached before it started", [variant])
            continue
          }
          log(`${precision} context ${context}, ${variantName(variant)}:`)
          const result = yield* measure(
            options,
            models,
            { agent, user },
            { lm: lmFile, cacheDir },
            precision,
            context,
            variant,
            schedules,
            memory,
          ).pipe(
            Effect.catchCause((cause) =>
              Effect.succeed<RunResult>({
                precision,
                context,
                variant: variantName(variant),
                status: "failed",
                error: String(cause).slice(0, 4000),
              }),
            ),
          )
          report.runs.push(result)
          save()
          log(renderTable(report))
        }
      fs.rmSync(cacheDir, { recursive: true, force: true })
    }
  })
  try {
    await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(ortLayer)))
  } finally {
    memory.stop()
  }
  if (codecProfilePrefix) {
    const summaries = Object.fromEntries(
      (["encode", "decode"] as const).flatMap((direction) => {
        const file = findProfile(`${codecProfilePrefix}-${direction}`)
        return file ? [[direction, summarizeProfile(file)] as const] : []
      }),
    )
    ;(report as { codecProfile?: BenchReport["codecProfile"] }).codecProfile = summaries
    for (const [direction, summary] of Object.entries(summaries))
      logProfile(`Mimi ${direction}`, summary, log)
  }
  save()
  return report
}

/** A profile's median run by operator, and its GPU kernels where the provider timed them. */
const logProfile = (what: string, summary: ProfileSummary, log: (line: string) => void) => {
  log(
    `  ${what} profile (median of ${summary.runs} runs): ${summary.medianRunMs.toFixed(2)} ms, ${summary.nodes} nodes ${summary.nodeMs.toFixed(2)} ms; ${summary.byOp
      .slice(0, 8)
      .map((o) => `${o.op} ${o.ms.toFixed(2)}`)
      .join(", ")}`,
  )
  if (summary.gpu)
    log(
      `  ${what} GPU kernels (typical run): ${summary.gpu.ms.toFixed(2)} ms, ${summary.gpu.kernels} kernels; ${summary.gpu.byOp
        .slice(0, 8)
        .map((o) => `${o.op} ${o.ms.toFixed(2)} (${o.kernels})`)
        .join(", ")}`,
    )
}
