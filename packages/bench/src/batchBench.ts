import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type CodecError, MimiCodec, writeRandomMimiCheckpoint } from "@personaplex/codec"
import {
  LmBatch,
  type LmError,
  LmGen,
  lmCheckpointTensors,
  type Quantization,
  writeRandomLmCheckpoint,
} from "@personaplex/lm"
import { type ExecutionProvider, makeRng, OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
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
  readonly contexts: ReadonlyArray<number>
  /** Live sessions to measure: 1 is `LmGen` on the fused engine, more an `LmBatch` of that many. */
  readonly sessions: ReadonlyArray<number>
  /** Ticks measured per configuration, after `warmup` ticks. */
  readonly ticks: number
  readonly warmup: number
  readonly workDir: string
  readonly out: string
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
  /** One run of all the sessions' steps. */
  readonly tickMs: Summary
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

/** What a configuration drives: a tick of every session's frame, and each session's prompt. */
interface Driver {
  readonly rows: number
  readonly prompt: Effect.Effect<void, LmError | CodecError, MimiCodec>
  tick(frame: (session: number) => Int32Array): Effect.Effect<ReadonlyArray<number>, LmError>
}

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
      cacheDir: path.join(options.workDir, "converted"),
    }
    const tOpen = performance.now()
    let driver: Driver
    if (n === 1) {
      const gen = yield* LmGen.make({ ...lmOptions, engine: "fused" })
      driver = {
        rows: 1,
        prompt: gen.prompt(system),
        tick: (frame) =>
          Effect.suspend(() => {
            const start = performance.now()
            return Effect.map(gen.step(frame(0)), () => [performance.now() - start])
          }),
      }
    } else {
      const batch = yield* LmBatch.make({ ...lmOptions, maxSessions: n })
      const sessions = yield* Effect.forEach(
        Array.from({ length: n }, (_, s) => s),
        (s) => batch.join({ sampling: { seed: 1000 + s } }),
      )
      driver = {
        rows: batch.batch,
        prompt: Effect.forEach(sessions, (s) => s.prompt(system), { discard: true }),
        tick: (frame) =>
          Effect.suspend(() => {
            const start = performance.now()
            return batch.tick(
              sessions.map((session, s) => ({
                session,
                frame: Effect.map(session.step(frame(s)), () => performance.now() - start),
              })),
            )
          }),
      }
    }
    const openMs = performance.now() - tOpen
    const tPrompt = performance.now()
    yield* driver.prompt
    const promptsMs = performance.now() - tPrompt
    const codes = (t: number) => (s: number) =>
      Int32Array.from({ length: 8 }, (_, q) => (t * 131 + s * 977 + q * 257) % models.lm.card)
    for (let t = 0; t < options.warmup; t++) yield* driver.tick(codes(t))
    const ticks: number[] = []
    const perSession: number[][] = Array.from({ length: n }, () => [])
    let rss = process.memoryUsage().rss
    for (let t = 0; t < options.ticks; t++) {
      const t0 = performance.now()
      const finished = yield* driver.tick(codes(options.warmup + t))
      ticks.push(performance.now() - t0)
      for (const [s, ms] of finished.entries()) perSession[s]!.push(ms)
      rss = Math.max(rss, process.memoryUsage().rss)
    }
    const all = perSession.flat()
    return {
      graphRows: driver.rows,
      openMs,
      promptsMs,
      tickMs: summarize(ticks),
      sessionFrameP99Ms: Math.max(...perSession.map((xs) => summarize(xs).p99)),
      sessionFrameMaxMs: Math.max(...all),
      lateFrames: all.filter((ms) => ms > FRAME_MS).length,
      peakRssMiB: rss / 2 ** 20,
    }
  }).pipe(
    Effect.scoped,
    // The prompts reset a codec (as the loop's do): one on the CPU, outside what is timed per tick.
    Effect.provide(
      MimiCodec.layer({
        checkpoint: mimiFile,
        config: BENCH_MODELS[options.models].mimi,
        executionProviders: ["cpu"],
      }).pipe(Layer.provideMerge(OrtSession.layer({ executionProviders: [options.provider] }))),
    ),
  )

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
 * 80 ms frame, GPU memory. The LM only: each session's Mimi encode and decode are not in the tick.
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
    `LM batch, ${report.provider}, ${report.models}, ${report.quantization} (tick: one run of every session's step; frame ${report.frameMs} ms)`,
    "",
    "| context | sessions | graph rows | tick p50 ms | tick p99 ms | session frame p99 ms | late frames | real time | peak GPU MiB | prompts ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.runs.map((r) =>
      r.error
        ? `| ${r.context} | ${r.sessions} | - | ${r.error.slice(0, 60)} | | | | | ${r.peakGpuMiB ?? "-"} | |`
        : `| ${r.context} | ${r.sessions} | ${r.graphRows} | ${f(r.tickMs.p50)} | ${f(r.tickMs.p99)} | ${f(r.sessionFrameP99Ms)} | ${r.lateFrames} | ${r.realTime ? "yes" : "no"} | ${r.peakGpuMiB ?? "-"} | ${r.promptsMs.toFixed(0)} |`,
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
