import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MimiCodec, type MimiCodecShape, writeRandomMimiCheckpoint } from "@personaplex/codec"
import {
  LmBatch,
  LmGen,
  type LmGenShape,
  lmCheckpointTensors,
  type Quantization,
  writeRandomLmCheckpoint,
} from "@personaplex/lm"
import { type ExecutionProvider, makeRng, OrtSession } from "@personaplex/runtime"
import { Context, Effect, Layer } from "effect"
import { type Summary, summarize, systemPrompt } from "./bench.ts"
import { BENCH_MODELS } from "./configs.ts"
import { startGpuMemorySampler } from "./gpuMemory.ts"

/** A frame lasts 80 ms (12.5 Hz): a tick slower than that leaves every session of it behind real time. */
export const FRAME_MS = 80

export interface BatchBenchOptions {
  readonly provider: ExecutionProvider
  readonly models: "personaplex" | "tiny"
  /** An LM checkpoint of the models' configuration (default: random weights written into `workDir`). */
  readonly checkpoint?: string
  readonly quantization: Quantization
  /** int8/int4: int8 activations too (`LmGenOptions.int8Activations`). */
  readonly int8Activations?: boolean
  readonly contexts: ReadonlyArray<number>
  /** Live sessions to measure: 1 is `LmGen` on the fused engine, more an `LmBatch` of that many. */
  readonly sessions: ReadonlyArray<number>
  /** Ticks measured per configuration, after `warmup` ticks. */
  readonly ticks: number
  readonly warmup: number
  readonly workDir: string
  readonly out: string
  /**
   * Each session's own Mimi codec on this provider (a worker each), in the tick: encode, LM step, decode.
   * Default: none in the tick (the prompts reset one CPU codec), so the tick is the LM alone.
   */
  readonly codec?: ExecutionProvider
  /** Stop starting configurations after this many seconds (those left are listed as skipped). */
  readonly deadlineSeconds?: number
  readonly command?: string
  readonly log?: (line: string) => void
}

export interface BatchRun {
  readonly context: number
  /** Live sessions. */
  readonly sessions: number
  /** Rows of the graph that ran them (1: the fused engine). */
  readonly graphRows: number
  readonly openMs: number
  /** Every session's system prompt (cached voice + 50 text tokens), one after the other. */
  readonly promptsMs: number
  /** Every session's frame: one run of all the sessions' steps (with `codec`: their encodes before, decodes after). */
  readonly tickMs: Summary
  /** With `codec`: each session's encode (from the tick's start) and decode. */
  readonly encodeMs?: Summary
  readonly decodeMs?: Summary
  /** Each session's frame (tick start to its tokens): the worst session's p99, and the max over all. */
  readonly sessionFrameP99Ms: number
  readonly sessionFrameMaxMs: number
  /** Session frames over `FRAME_MS`. */
  readonly lateFrames: number
  /** Every session at real time: no late frame. */
  readonly realTime: boolean
  /** GPU memory (nvidia-smi) in use at the peak of this configuration, and before it opened. */
  readonly peakGpuMiB?: number
  readonly gpuMiBBefore?: number
  readonly peakRssMiB: number
  readonly error?: string
}

export interface BatchBenchReport {
  readonly benchmark: "personaplex-lm-batch"
  readonly date: string
  readonly command?: string
  readonly provider: ExecutionProvider
  readonly models: "personaplex" | "tiny"
  readonly quantization: Quantization
  readonly int8Activations?: boolean
  readonly codec?: ExecutionProvider
  readonly host: { readonly cores: number; readonly cpu?: string; readonly node: string }
  readonly frameMs: number
  readonly runs: BatchRun[]
  /** Per context: the most live sessions with no late frame, and the GPU memory each added session took (a fit over the batches). */
  readonly summary: Record<
    string,
    { readonly largestRealTimeSessions: number; readonly gpuMiBPerAddedSession?: number }
  >
  readonly skipped: string[]
}

/** One session of a configuration: its step (`LmGen` alone, or an `LmBatch` session) and its codec. */
interface BenchSession {
  readonly gen: Pick<LmGenShape, "step" | "prompt">
  readonly codec: MimiCodecShape
}

/** A session's codec on `worker` (an `OrtSession`: its own for each CPU codec, one for all WebGPU ones). */
const sessionCodec = (
  mimiFile: string,
  options: BatchBenchOptions,
  provider: ExecutionProvider,
  worker: Layer.Layer<OrtSession>,
) =>
  Effect.map(
    Layer.build(
      MimiCodec.layer({
        checkpoint: mimiFile,
        config: BENCH_MODELS[options.models].mimi,
        executionProviders: [provider],
        ...(provider === "webgpu" ? { graphCapture: true } : {}),
      }).pipe(Layer.provide(worker)),
    ),
    (context) => Context.get(context, MimiCodec),
  )

const measure = (
  options: BatchBenchOptions,
  checkpoint: string,
  mimiFile: string,
  context: number,
  n: number,
) =>
  Effect.gen(function* () {
    const models = BENCH_MODELS[options.models]
    const rng = makeRng(context * 100 + n)
    const system = systemPrompt(models, rng)
    const lmOptions = {
      checkpoint,
      config: models.lm,
      context,
      quantization: options.quantization,
      ...(options.int8Activations ? { int8Activations: true } : {}),
      cacheDir: path.join(options.workDir, "converted"),
    }
    const codecProvider = options.codec ?? "cpu"
    const worker = () =>
      OrtSession.layer({
        executionProviders: [codecProvider],
        intraOpSpinning: false,
        ...(codecProvider === "cpu" ? { intraOpThreads: Math.max(1, Math.floor(os.cpus().length / n)) } : {}),
      })
    // CPU codecs run side by side, a worker each; GPU codecs share one worker (several WebGPU workers
    // of codecs crashed Dawn on lavapipe: "CommandEncoder is already finished").
    const gpuWorker = codecProvider === "cpu" ? undefined : Layer.succeedContext(yield* Layer.build(worker()))
    const codecs = yield* Effect.forEach(
      Array.from({ length: options.codec ? n : 1 }, () => 0),
      () => sessionCodec(mimiFile, options, codecProvider, gpuWorker ?? worker()),
    )
    const tOpen = performance.now()
    let rows: number
    let sessions: BenchSession[]
    /** Every session's frame together: `LmBatch.tick` gathers their steps into one run. */
    let together: <A, E, R>(
      frames: ReadonlyArray<Effect.Effect<A, E, R>>,
    ) => Effect.Effect<ReadonlyArray<A>, E, R>
    if (n === 1) {
      const gen = yield* LmGen.make({ ...lmOptions, engine: "fused" })
      rows = 1
      sessions = [{ gen, codec: codecs[0]! }]
      together = (frames) => Effect.all(frames)
    } else {
      // Opened at its size: growing to 32 rows at context 3000 would hold 16 rows' caches beside 32's.
      const batch = yield* LmBatch.make({ ...lmOptions, maxSessions: n, initialSessions: n })
      const joined = yield* Effect.forEach(
        Array.from({ length: n }, (_, s) => s),
        (s) => batch.join({ sampling: { seed: 1000 + s } }),
      )
      rows = yield* batch.rows
      sessions = joined.map((gen, s) => ({ gen, codec: codecs[options.codec ? s : 0]! }))
      together = (frames) => batch.tick(frames.map((frame, s) => ({ session: joined[s]!, frame })))
    }
    const openMs = performance.now() - tOpen
    const tPrompt = performance.now()
    for (const { gen, codec } of sessions)
      yield* gen.prompt(system).pipe(Effect.provideService(MimiCodec, codec))
    const promptsMs = performance.now() - tPrompt

    const pcm = (t: number, s: number) =>
      Float32Array.from(
        { length: 1920 },
        (_, i) => 0.1 * Math.sin((2 * Math.PI * (140 + 10 * s) * (t * 1920 + i)) / 24000),
      )
    const randomCodes = (t: number, s: number) =>
      Int32Array.from({ length: 8 }, (_, q) => (t * 131 + s * 977 + q * 257) % models.lm.card)
    const silence = new Float32Array(1920)
    /** Each session's frame, timed from the tick's start: encode, LM step, decode (with `codec`), or the step alone. */
    const tick = (t: number) =>
      Effect.suspend(() => {
        const start = performance.now()
        return together(
          sessions.map(({ gen, codec }, s) =>
            Effect.gen(function* () {
              if (!options.codec) {
                yield* gen.step(randomCodes(t, s))
                return { frameMs: performance.now() - start, encodeMs: 0, decodeMs: 0 }
              }
              const codes = yield* codec.encode(pcm(t, s))
              const encoded = performance.now()
              const tokens = yield* gen.step(codes)
              const stepped = performance.now()
              if (tokens) yield* codec.decode(tokens.slice(1, 9))
              else yield* Effect.succeed(silence)
              const done = performance.now()
              return { frameMs: done - start, encodeMs: encoded - start, decodeMs: done - stepped }
            }),
          ),
        )
      })
    for (let t = 0; t < options.warmup; t++) yield* tick(t)
    const ticks: number[] = []
    const perSession: number[][] = Array.from({ length: n }, () => [])
    const encodes: number[] = []
    const decodes: number[] = []
    let rss = process.memoryUsage().rss
    for (let t = 0; t < options.ticks; t++) {
      const t0 = performance.now()
      const frames = yield* tick(options.warmup + t)
      ticks.push(performance.now() - t0)
      for (const [s, f] of frames.entries()) {
        perSession[s]!.push(f.frameMs)
        encodes.push(f.encodeMs)
        decodes.push(f.decodeMs)
      }
      rss = Math.max(rss, process.memoryUsage().rss)
    }
    const all = perSession.flat()
    return {
      graphRows: rows,
      openMs,
      promptsMs,
      tickMs: summarize(ticks),
      ...(options.codec ? { encodeMs: summarize(encodes), decodeMs: summarize(decodes) } : {}),
      sessionFrameP99Ms: Math.max(...perSession.map((xs) => summarize(xs).p99)),
      sessionFrameMaxMs: Math.max(...all),
      lateFrames: all.filter((ms) => ms > FRAME_MS).length,
      peakRssMiB: rss / 2 ** 20,
    }
  }).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: [options.provider] })))

/** Least-squares slope of `y` over `x` (MiB per added session), undefined under two points. */
const slope = (points: ReadonlyArray<readonly [number, number]>) => {
  if (points.length < 2) return undefined
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? undefined : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

/**
 * Many conversations on one LM step, through the public layers (`LmGen` for one session, `LmBatch`
 * for more): per context and number of live sessions, each with its own system prompt and seed,
 * the tick time (one run of every session's step), each session's frame, late frames against the
 * 80 ms frame, GPU memory. With `codec`, each session's frame is the loop's: its own Mimi encodes,
 * the step, its Mimi decodes (the codecs run side by side, one worker each); without, the LM alone.
 * Writes the JSON after every configuration and returns it.
 */
export const runBatchBench = async (options: BatchBenchOptions): Promise<BatchBenchReport> => {
  const log = options.log ?? ((line: string) => console.log(line))
  const started = performance.now()
  const models = BENCH_MODELS[options.models]
  fs.mkdirSync(options.workDir, { recursive: true })
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true })
  const checkpoint = options.checkpoint ?? path.join(options.workDir, "lm-random.safetensors")
  if (!options.checkpoint) writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(models.lm))
  const mimiFile = path.join(options.workDir, "mimi-random.safetensors")
  writeRandomMimiCheckpoint(mimiFile, models.mimi)
  const report: BatchBenchReport = {
    benchmark: "personaplex-lm-batch",
    date: new Date().toISOString(),
    ...(options.command ? { command: options.command } : {}),
    provider: options.provider,
    models: options.models,
    quantization: options.quantization,
    ...(options.int8Activations ? { int8Activations: true } : {}),
    ...(options.codec ? { codec: options.codec } : {}),
    host: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    frameMs: FRAME_MS,
    runs: [],
    summary: {},
    skipped: [],
  }
  const save = () => fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`)
  const memory = startGpuMemorySampler()
  try {
    for (const context of options.contexts)
      for (const sessions of options.sessions) {
        const name = `context ${context}, ${sessions} sessions`
        if (options.deadlineSeconds && (performance.now() - started) / 1000 > options.deadlineSeconds) {
          report.skipped.push(name)
          continue
        }
        const gpuMiBBefore = memory.currentMiB()
        memory.mark()
        const result = await Effect.runPromise(
          Effect.result(measure(options, checkpoint, mimiFile, context, sessions)),
        )
        const peakGpuMiB = memory.peakMiB()
        const gpu = {
          ...(peakGpuMiB === undefined ? {} : { peakGpuMiB }),
          ...(gpuMiBBefore === undefined ? {} : { gpuMiBBefore }),
        }
        if (result._tag === "Failure") {
          const error = (result.failure as { message?: string }).message ?? String(result.failure)
          log(`${name}: ${error}`)
          report.runs.push({
            context,
            sessions,
            graphRows: 0,
            openMs: 0,
            promptsMs: 0,
            tickMs: summarize([]),
            sessionFrameP99Ms: Number.NaN,
            sessionFrameMaxMs: Number.NaN,
            lateFrames: 0,
            realTime: false,
            peakRssMiB: process.memoryUsage().rss / 2 ** 20,
            ...gpu,
            error,
          })
        } else {
          const run: BatchRun = {
            context,
            sessions,
            ...result.success,
            realTime: result.success.lateFrames === 0,
            ...gpu,
          }
          report.runs.push(run)
          log(
            `${name} (graph of ${run.graphRows}): tick p50 ${run.tickMs.p50.toFixed(1)} / p99 ${run.tickMs.p99.toFixed(1)} ms, session frame p99 ${run.sessionFrameP99Ms.toFixed(1)} ms, late ${run.lateFrames}, open ${run.openMs.toFixed(0)} ms, prompts ${run.promptsMs.toFixed(0)} ms${peakGpuMiB === undefined ? "" : `, GPU ${peakGpuMiB} MiB`}`,
          )
        }
        const ok = report.runs.filter((r) => r.context === context && r.error === undefined)
        report.summary[String(context)] = {
          largestRealTimeSessions: Math.max(0, ...ok.filter((r) => r.realTime).map((r) => r.sessions)),
          ...(() => {
            const perSession = slope(
              ok
                .filter((r) => r.sessions > 1 && r.peakGpuMiB !== undefined)
                .map((r) => [r.sessions, r.peakGpuMiB!] as const),
            )
            return perSession === undefined ? {} : { gpuMiBPerAddedSession: perSession }
          })(),
        }
        save()
      }
  } finally {
    memory.stop()
  }
  save()
  return report
}

/** The report as a Markdown table, one row per configuration, and the summary per context. */
export const renderBatchTable = (report: BatchBenchReport): string => {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-")
  const lines = [
    `LM batch, ${report.provider}, ${report.models}, ${report.quantization}, codec ${report.codec ?? "not in the tick"} (tick: every session's frame, one run of their steps; frame ${report.frameMs} ms)`,
    "",
    "| context | sessions | graph rows | tick p50 ms | tick p99 ms | session frame p99 ms | encode / decode p99 ms | late frames | real time | peak GPU MiB | prompts ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.runs.map((r) =>
      r.error
        ? `| ${r.context} | ${r.sessions} | - | ${r.error.slice(0, 60)} | | | | | | ${r.peakGpuMiB ?? "-"} | |`
        : `| ${r.context} | ${r.sessions} | ${r.graphRows} | ${f(r.tickMs.p50)} | ${f(r.tickMs.p99)} | ${f(r.sessionFrameP99Ms)} | ${r.encodeMs && r.decodeMs ? `${f(r.encodeMs.p99)} / ${f(r.decodeMs.p99)}` : "-"} | ${r.lateFrames} | ${r.realTime ? "yes" : "no"} | ${r.peakGpuMiB ?? "-"} | ${r.promptsMs.toFixed(0)} |`,
    ),
    "",
    ...Object.entries(report.summary).map(
      ([context, s]) =>
        `context ${context}: largest real-time batch ${s.largestRealTimeSessions} sessions${s.gpuMiBPerAddedSession === undefined ? "" : `, ${s.gpuMiBPerAddedSession.toFixed(0)} MiB GPU per added session`}`,
    ),
    ...(report.skipped.length > 0 ? [`skipped (deadline): ${report.skipped.join("; ")}`] : []),
  ]
  return lines.join("\n")
}
