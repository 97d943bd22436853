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
  buildStepGraph,
  convertWeights,
  type GpuAttention,
  type GpuLm,
  type GpuLmStep,
  type GpuPrecision,
  type KvCacheType,
  lmCheckpointTensors,
  openGpuLm,
  parameterCount,
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
  /** Folder for the random checkpoints and converted weights (needs room for the real model: ~30 GB). */
  readonly workDir: string
  /** JSON report path (rewritten after every configuration). */
  readonly out: string
  /** Conversion worker threads (0: on the main thread). */
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
  /**
   * The agent's Mimi sessions run in the LM's worker and hand the codes to and from the LM step on
   * the device (`MimiCodecOptions.sharedCodes`, `GpuLmOptions.sharedCodes`): the frame's three stages
   * are posted at once and run back to back, with no host round trip between them (the user decode
   * still gets its codes). Needs the agent codec on the LM's provider. Default false.
   */
  readonly codesOnDevice?: boolean
  /** Depformer steps run per frame: 8 (agent codebooks, what the loop uses) or 16 (upstream). */
  readonly depformerSteps: number
  /** Configurations not started after this many seconds are skipped (reported as such). */
  readonly deadlineSeconds?: number
  /** Step graph with com.microsoft RotaryEmbedding + SkipSimplifiedLayerNormalization (default: tried first). */
  readonly fusedOps?: boolean
  /**
   * LM forms measured one after the other for each precision and context, on the same machine in
   * the same process (default: `gqa`).
   */
  readonly variants?: ReadonlyArray<LmVariant>
  /**
   * Record onnxruntime's profile of the LM step session into this folder and break its median run
   * down by operator in the report. Profiling slows every run: such a run's timings are not comparable.
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

/** How the LM runs: its attention and KV cache form (`GpuAttention`, `KvCacheType`). */
export interface LmVariant {
  readonly attention: GpuAttention
  /** With `gqa` (default float16). */
  readonly kvCache?: KvCacheType
  /** With `gqa` on WebGPU: steps replay a captured graph (`GpuLmOptions.graphCapture`). */
  readonly graphCapture?: boolean
}

const VARIANTS: Record<string, LmVariant> = {
  gqa: { attention: "gqa" },
  "gqa-capture": { attention: "gqa", graphCapture: true },
  "gqa-f32": { attention: "gqa", kvCache: "float32" },
  "gqa-f32-capture": { attention: "gqa", kvCache: "float32", graphCapture: true },
  mha: { attention: "mha" },
  matmul: { attention: "matmul" },
}

/**
 * `gqa`, `gqa-capture` (WebGPU graph capture), `gqa-f32` (float32 KV cache), `gqa-f32-capture`, `mha`
 * or `matmul` (the CLI's `--variants`).
 */
export const parseVariant = (text: string): LmVariant => {
  const variant = VARIANTS[text]
  if (!variant) throw new Error(`unknown LM variant "${text}" (${Object.keys(VARIANTS).join(", ")})`)
  return variant
}

export const variantName = (v: LmVariant): string =>
  [v.attention, ...(v.kvCache === "float32" ? ["f32"] : []), ...(v.graphCapture ? ["capture"] : [])].join("-")

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
  /** The LM form asked for (`variantName`); `attention` says what ran. */
  readonly variant: string
  readonly status: "ok" | "failed" | "skipped"
  readonly error?: string
  readonly sampling?: string
  readonly opset?: number
  readonly attention?: GpuAttention
  readonly kvCache?: KvCacheType
  readonly fusedOps?: boolean
  readonly cpuFallbackAllowed?: boolean
  /** Steps replayed a captured graph. */
  readonly graphCapture?: boolean
  readonly failedAttempts?: ReadonlyArray<string>
  readonly weightsBytes?: number
  readonly convertMs?: number
  readonly graphMs?: number
  readonly sessionMs?: number
  readonly firstFrameMs?: number
  /** Graph build + session (weights to the device) + first frame; conversion excluded (cached). */
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
  readonly resetMs?: number
  /** reset + voice prompt + silence + snapshot + text prompt + silence, batched. */
  readonly systemPromptMs?: number
  readonly promptFrames?: number
  /** restore(snapshot after voice + silence) + text prompt and silence prefilled in one run. */
  readonly restartMs?: Summary
  /** restore + the same rows one step at a time. */
  readonly restartPerTokenMs?: number
  /** Restarts between measured frames because the linear cache was full (not timed in the frames). */
  readonly cacheRestarts?: number
  readonly peakGpuMiB?: number
  readonly gpuMiBBefore?: number
  readonly peakRssMiB?: number
  /** With `profileDir`: the LM step session's profile (its timings include profiling). */
  readonly profile?: ProfileSummary
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
  /** Codes went between Mimi and the LM on the device (`BenchOptions.codesOnDevice`). */
  readonly codesOnDevice?: boolean
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

/** The system prompt's rows (upstream-spec §5): 5 s of voice, 6 silence, 50 text tokens, 6 silence. */
const promptRows = (models: BenchModels, rng: () => number) => {
  const { card, textCard, existingTextPaddingId } = models.lm
  const voiceFrames = Math.ceil(5 * 12.5)
  const audio = () => Math.floor(((rng() + 1) / 2) * card)
  const row = (text: number) => Int32Array.from({ length: 17 }, (_, k) => (k === 0 ? text : audio()))
  const voice = Array.from({ length: voiceFrames + 6 }, () => row(existingTextPaddingId))
  const text = [
    ...Array.from({ length: 50 }, () => row(4 + Math.floor(((rng() + 1) / 2) * (textCard - 4)))),
    ...Array.from({ length: 6 }, () => row(existingTextPaddingId)),
  ]
  return { voice, text }
}

const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const value = yield* self
    return [value, performance.now() - t0] as const
  })

const profilePrefix = (dir: string, precision: GpuPrecision, context: number, variant: LmVariant) =>
  path.join(dir, `lm-${precision}-ctx${context}-${variantName(variant)}`)

/** The shared buffers of `BenchOptions.codesOnDevice`: the encoder's codes are the user's, the decoder's the agent's. */
const LM_SHARED_CODES = { pool: "frame-codes", user: "user-codes", agent: "agent-codes" }
const MIMI_SHARED_CODES = { pool: "frame-codes", encoded: "user-codes", decoded: "agent-codes" }

/** The agent's codec (encode, then decode of the LM's tokens) and the user stream's, each in its own worker. */
interface Codecs {
  readonly agent: MimiCodecShape
  readonly user: MimiCodecShape
}

const measure = (
  options: BenchOptions,
  models: BenchModels,
  codecs: Codecs,
  converted: { layout: Parameters<typeof openGpuLm>[0]["layout"]; weightsFile: string; ms: number },
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
    const lm: GpuLm = yield* openGpuLm({
      config: models.lm,
      context,
      layout: converted.layout,
      weightsFile: converted.weightsFile,
      provider: options.provider,
      attention: [variant.attention],
      ...(variant.kvCache ? { kvCache: variant.kvCache } : {}),
      ...(variant.graphCapture ? { graphCapture: true } : {}),
      ...(options.profileDir
        ? {
            profileFilePrefix: profilePrefix(
              options.profileDir,
              converted.layout.precision,
              context,
              variant,
            ),
          }
        : {}),
      ...(options.fusedOps === undefined ? {} : { fusedOps: [options.fusedOps] }),
      ...(options.codesOnDevice ? { sharedCodes: LM_SHARED_CODES } : {}),
    })
    log(
      `  session open (${lm.opened.attention} attention${lm.opened.fusedOps ? ", fused ops" : ""}${lm.opened.graphCapture ? ", graph capture" : ""}, ${lm.opened.sampling}${lm.opened.cpuFallbackAllowed ? ", CPU fallback allowed" : ""}): graph ${lm.opened.graphMs.toFixed(0)} ms, session ${lm.opened.sessionMs.toFixed(0)} ms${lm.opened.failedAttempts.length ? `; failed first: ${lm.opened.failedAttempts.join(" | ")}` : ""}`,
    )
    let text = models.lm.existingTextPaddingId
    let agent: Int32Array = new Int32Array(8)
    /** The LM's input row of `length` tokens, led by the previous step's text and agent tokens. */
    const previousTokens = (length: number) => {
      const tokens = new Int32Array(length)
      tokens[0] = text
      tokens.set(agent.subarray(0, 8), 1)
      return tokens
    }
    /**
     * The codes stay on the device (`BenchOptions.codesOnDevice`): encode, step and decode are posted
     * to the one worker at once (overlapped) and each starts as the one before it ends; a stage's time
     * runs from the end of the one before it.
     */
    const frameOnDevice = (t: number, schedule: FrameSchedule) =>
      Effect.gen(function* () {
        const start = performance.now()
        const stamped = <A, E>(self: Effect.Effect<A, E>) =>
          Effect.map(self, (a) => [a, performance.now()] as const)
        const encode = stamped(codecs.agent.encode(inputFrame(t, rng)))
        const step = stamped(lm.stepShared(previousTokens(9)))
        const decode = stamped(codecs.agent.decodeShared)
        const userDecode = (codes: Int32Array) => Effect.map(timed(codecs.user.decode(codes)), ([, ms]) => ms)
        let encodedAt: number
        let out: GpuLmStep
        let steppedAt: number
        let decodedAt: number
        let userDecodeMs: number
        if (schedule === "overlapped") {
          const encodeThenUser = Effect.gen(function* () {
            const [codes, at] = yield* encode
            return [at, yield* userDecode(codes)] as const
          })
          ;[[encodedAt, userDecodeMs], [out, steppedAt], [, decodedAt]] = yield* Effect.all(
            [encodeThenUser, step, decode],
            { concurrency: "unbounded" },
          )
        } else {
          const [codes, at] = yield* encode
          encodedAt = at
          ;[out, steppedAt] = yield* step
          ;[, decodedAt] = yield* decode
          userDecodeMs = yield* userDecode(codes)
        }
        const frameMs = performance.now() - start
        return {
          out,
          encodeMs: encodedAt - start,
          lmMs: steppedAt - encodedAt,
          decodeMs: decodedAt - steppedAt,
          userDecodeMs,
          frameMs,
          oneDecodeMs: decodedAt - start,
        }
      })
    const frameViaHost = (t: number, schedule: FrameSchedule) =>
      Effect.gen(function* () {
        const start = performance.now()
        const [codes, encodeMs] = yield* timed(codecs.agent.encode(inputFrame(t, rng)))
        const tokens = previousTokens(17)
        tokens.set(codes.subarray(0, 8), 9)
        const lmStep = timed(lm.step(tokens))
        const userDecode = timed(codecs.user.decode(codes))
        const agentDecode = (audio: Int32Array) =>
          Effect.map(
            timed(codecs.agent.decode(audio.subarray(0, 8))),
            ([, ms]) => [ms, performance.now()] as const,
          )
        let out: GpuLmStep
        let lmMs: number
        let userDecodeMs: number
        let decodeMs: number
        let agentDoneAt: number
        if (schedule === "overlapped") {
          ;[[out, lmMs], [, userDecodeMs]] = yield* Effect.all([lmStep, userDecode], { concurrency: 2 })
          ;[decodeMs, agentDoneAt] = yield* agentDecode(out.audioTokens)
        } else {
          ;[out, lmMs] = yield* lmStep
          ;[decodeMs, agentDoneAt] = yield* agentDecode(out.audioTokens)
          ;[, userDecodeMs] = yield* userDecode
        }
        const frameMs = performance.now() - start
        return { out, encodeMs, lmMs, decodeMs, userDecodeMs, frameMs, oneDecodeMs: agentDoneAt - start }
      })
    /** One frame's stage times; the next frame starts from this one's tokens. */
    const frame = (t: number, schedule: FrameSchedule) =>
      Effect.map(
        (options.codesOnDevice ? frameOnDevice : frameViaHost)(t, schedule),
        ({ out, ...stages }) => {
          text = out.textToken
          agent = out.audioTokens
          rss = Math.max(rss, process.memoryUsage().rss)
          return stages
        },
      )
    const [, firstFrameMs] = yield* timed(frame(0, schedules[0]!))
    const timeToFirstFrameMs = performance.now() - tLoad
    log(
      `  first frame ${firstFrameMs.toFixed(0)} ms; time to first frame ${timeToFirstFrameMs.toFixed(0)} ms`,
    )
    const tWarm = performance.now()
    for (let t = 1; t < options.warmup; t++) yield* frame(t, schedules[t % schedules.length]!)
    // Compile the prompt shapes too.
    const rows = promptRows(models, rng)
    yield* lm.reset
    yield* lm.prefill(rows.voice)
    yield* lm.snapshot("voice")
    yield* lm.prefill(rows.text)
    const warmupMs = performance.now() - tWarm + firstFrameMs

    const [, resetMs] = yield* timed(lm.reset)
    const [, systemPromptMs] = yield* timed(
      Effect.gen(function* () {
        yield* lm.reset
        yield* lm.prefill(rows.voice)
        yield* lm.snapshot("voice")
        yield* lm.prefill(rows.text)
      }),
    )
    const restarts: number[] = []
    for (let i = 0; i < options.restarts; i++) {
      const [, ms] = yield* timed(Effect.andThen(lm.restore("voice"), lm.prefill(rows.text)))
      restarts.push(ms)
    }
    log(
      `  system prompt ${systemPromptMs.toFixed(0)} ms; restart p50 ${summarize(restarts).p50.toFixed(1)} ms; reset ${resetMs.toFixed(1)} ms`,
    )
    let cacheRestarts = 0
    type Sample = Effect.Success<ReturnType<typeof frame>>
    const samples = new Map<FrameSchedule, Sample[]>(schedules.map((s) => [s, []]))
    for (let t = 0; t < options.frames * schedules.length; t++) {
      // The loop's own answer to a full cache: back to the prompts (untimed here, measured above).
      if (lm.capacity !== undefined && lm.position() >= lm.capacity) {
        yield* lm.restore("voice")
        yield* lm.prefill(rows.text)
        cacheRestarts++
      }
      const schedule = schedules[t % schedules.length]!
      samples.get(schedule)!.push(yield* frame(options.warmup + t, schedule))
    }
    const [, restartPerTokenMs] = yield* timed(
      Effect.gen(function* () {
        yield* lm.restore("voice")
        for (const row of rows.text) yield* lm.step(row)
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
      precision: converted.layout.precision,
      context,
      variant: variantName(variant),
      status: "ok",
      sampling: lm.opened.sampling,
      opset: lm.opened.opset,
      attention: lm.opened.attention,
      kvCache: lm.opened.kvCache,
      fusedOps: lm.opened.fusedOps,
      cpuFallbackAllowed: lm.opened.cpuFallbackAllowed,
      graphCapture: lm.opened.graphCapture,
      failedAttempts: lm.opened.failedAttempts,
      weightsBytes: converted.layout.bytes,
      convertMs: converted.ms,
      graphMs: lm.opened.graphMs,
      sessionMs: lm.opened.sessionMs,
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
      promptFrames: rows.voice.length + rows.text.length,
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
 * Generate random weights of the chosen size on disk (upstream names), convert them per
 * precision, and measure the whole frame (Mimi encode, LM step, two Mimi decodes), time to first
 * frame, peak memory, and the restart pause, on one execution provider. Writes the JSON report
 * after every configuration and returns it.
 */
export const runBench = async (options: BenchOptions): Promise<BenchReport> => {
  const log = options.log ?? ((line: string) => console.log(line))
  if (options.codesOnDevice && (options.codecProvider ?? options.provider) !== options.provider)
    throw new Error(
      `codesOnDevice needs the agent's codec on the LM's provider ${options.provider}, not ${options.codecProvider}`,
    )
  const started = performance.now()
  const models = BENCH_MODELS[options.models]
  const variants = options.variants ?? defaultVariants(options.provider)
  fs.mkdirSync(options.workDir, { recursive: true })
  if (options.profileDir) fs.mkdirSync(options.profileDir, { recursive: true })
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true })
  const lmFile = path.join(options.workDir, "lm-random.safetensors")
  const mimiFile = path.join(options.workDir, "mimi-random.safetensors")
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
    ...(options.codesOnDevice ? { codesOnDevice: true } : {}),
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
  /** The agent's codec in the LM's worker, its codes in the buffers the LM step shares (`codesOnDevice`). */
  const codecBesideLm = (profileFilePrefix?: string) =>
    MimiCodec.layer({ ...codecOptions(options.provider, profileFilePrefix), sharedCodes: MIMI_SHARED_CODES })
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
    const agent = Context.get(
      yield* Layer.build(
        options.codesOnDevice
          ? codecBesideLm(codecProfilePrefix)
          : codecLayer(codecProvider, codecProfilePrefix),
      ),
      MimiCodec,
    )
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
      log(`${precision}: converting ${lmFile}`)
      const converted = yield* Effect.tryPromise({
        try: () =>
          convertWeights({
            checkpoint: lmFile,
            config: models.lm,
            precision,
            depformerSteps: options.depformerSteps,
            outDir: options.workDir,
            workers: options.workers,
          }),
        catch: (e) => e as Error,
      }).pipe(Effect.result)
      if (converted._tag === "Failure") {
        unrun(options.contexts, "failed", `conversion: ${converted.failure.message}`)
        continue
      }
      const weights = converted.success
      log(
        `${precision}: ${(weights.layout.bytes / 1e9).toFixed(2)} GB converted in ${weights.ms.toFixed(0)} ms`,
      )
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
            weights,
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
          const profile =
            options.profileDir && result.status === "ok"
              ? findProfile(profilePrefix(options.profileDir, precision, context, variant))
              : undefined
          const summary = profile ? summarizeProfile(profile) : undefined
          if (summary) logProfile("LM step", summary, log)
          report.runs.push(summary ? { ...result, profile: summary } : result)
          save()
          log(renderTable(report))
        }
      fs.rmSync(weights.weightsFile, { force: true })
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
