import * as fs from "node:fs"
import * as path from "node:path"
import { MimiBatch, MimiCodec, type MimiCodecShape, writeRandomMimiCheckpoint } from "@personaplex/codec"
import { type ExecutionProvider, makeRng, OrtSession } from "@personaplex/runtime"
import { Context, Effect, Layer } from "effect"
import { BENCH_MODELS, type BenchModels } from "./configs.ts"

export interface CodecBatchBenchOptions {
  readonly provider: ExecutionProvider
  readonly models: BenchModels["name"]
  /** Streams per tick to measure, e.g. `[1, 4, 8]`. */
  readonly rows: ReadonlyArray<number>
  readonly ticks: number
  readonly warmup: number
  /** WebGPU: replay each step's captured GPU work (`MimiCodecOptions.graphCapture`). */
  readonly graphCapture: boolean
  readonly intraOpThreads?: number
  readonly workDir: string
  readonly out: string
  readonly command: string
}

/** Per-tick milliseconds of one way of running `rows` streams: every row encodes a frame and decodes one. */
export interface CodecTiming {
  readonly medianMs: number
  readonly p90Ms: number
  readonly encodeMedianMs: number
  readonly decodeMedianMs: number
}

export interface CodecBatchRow {
  readonly rows: number
  /** One MimiBatch of `rows` rows: one encoder run and one decoder run per tick. */
  readonly batched: CodecTiming
  /** `rows` MimiCodecs, one after another. */
  readonly separate: CodecTiming
  /** The form the sessions ran in (`MimiForm`). */
  readonly form: string
}

export interface CodecBatchReport {
  readonly command: string
  readonly provider: ExecutionProvider
  readonly models: BenchModels["name"]
  readonly graphCapture: boolean
  readonly ticks: number
  readonly frameMs: 80
  readonly results: ReadonlyArray<CodecBatchRow>
}

const quantile = (values: ReadonlyArray<number>, q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const timing = (encode: ReadonlyArray<number>, decode: ReadonlyArray<number>): CodecTiming => {
  const total = encode.map((e, i) => e + decode[i]!)
  return {
    medianMs: quantile(total, 0.5),
    p90Ms: quantile(total, 0.9),
    encodeMedianMs: quantile(encode, 0.5),
    decodeMedianMs: quantile(decode, 0.5),
  }
}

/** `rows` streams of noise-like audio (a frame per row per tick). */
const frames = (rows: number, frameSize: number, seed: number) => {
  const rng = makeRng(seed)
  return Array.from({ length: rows }, () => Float32Array.from({ length: frameSize }, () => 0.1 * rng()))
}

const clock = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const result = yield* effect
    return [result, performance.now() - start] as const
  })

/**
 * Measure `ticks` ticks after `warmup`: `tick` encodes every row's frame, then decodes the codes it
 * got, and reports both durations.
 */
const measure = <E, R>(
  options: CodecBatchBenchOptions,
  tick: (t: number) => Effect.Effect<readonly [number, number], E, R>,
) =>
  Effect.gen(function* () {
    const encode: number[] = []
    const decode: number[] = []
    for (let t = 0; t < options.warmup + options.ticks; t++) {
      const [e, d] = yield* tick(t)
      if (t >= options.warmup) {
        encode.push(e)
        decode.push(d)
      }
    }
    return timing(encode, decode)
  })

/**
 * Mimi per tick for B streams, batched (one `MimiBatch`) against B separate `MimiCodec`s, with random
 * weights of the chosen size, through the codec package's public layers. Writes the JSON report.
 */
export const runCodecBatchBench = (options: CodecBatchBenchOptions): Promise<CodecBatchReport> => {
  const models = BENCH_MODELS[options.models]
  fs.mkdirSync(options.workDir, { recursive: true })
  const checkpoint = path.join(options.workDir, `mimi-${models.name}.safetensors`)
  if (!fs.existsSync(checkpoint)) writeRandomMimiCheckpoint(checkpoint, models.mimi)
  const codecOptions = {
    checkpoint,
    config: models.mimi,
    executionProviders: [options.provider],
    ...(options.intraOpThreads === undefined ? {} : { intraOpThreads: options.intraOpThreads }),
    ...(options.graphCapture ? { graphCapture: true } : {}),
    ...(options.provider === "cpu" ? {} : { disableCpuFallback: true }),
  }
  const { frameSize } = models.mimi
  const oneSize = (rows: number) =>
    Effect.gen(function* () {
      const audio = frames(rows, frameSize, rows)
      const { batched, form } = yield* Effect.scoped(
        Effect.gen(function* () {
          const batch = yield* MimiBatch.open({ ...codecOptions, rows })
          const batched = yield* measure(options, () =>
            Effect.gen(function* () {
              const [codes, e] = yield* clock(batch.encode(audio))
              const [, d] = yield* clock(batch.decode(codes))
              return [e, d] as const
            }),
          )
          return { batched, form: batch.form }
        }),
      )
      const codecs: MimiCodecShape[] = []
      const separate = yield* Effect.scoped(
        Effect.gen(function* () {
          for (let r = 0; r < rows; r++)
            codecs.push(Context.get(yield* Layer.build(MimiCodec.layer(codecOptions)), MimiCodec))
          return yield* measure(options, () =>
            Effect.gen(function* () {
              let encodeMs = 0
              let decodeMs = 0
              for (const [r, codec] of codecs.entries()) {
                const [codes, e] = yield* clock(codec.encode(audio[r]!))
                const [, d] = yield* clock(codec.decode(codes))
                encodeMs += e
                decodeMs += d
              }
              return [encodeMs, decodeMs] as const
            }),
          )
        }),
      )
      return { rows, batched, separate, form } satisfies CodecBatchRow
    })
  return Effect.runPromise(
    Effect.gen(function* () {
      const results: CodecBatchRow[] = []
      for (const rows of options.rows) results.push(yield* oneSize(rows))
      const report: CodecBatchReport = {
        command: options.command,
        provider: options.provider,
        models: options.models,
        graphCapture: options.graphCapture,
        ticks: options.ticks,
        frameMs: 80,
        results,
      }
      fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`)
      return report
    }).pipe(Effect.provide(OrtSession.layer({ executionProviders: [options.provider] }))),
  )
}

const ms = (x: number) => x.toFixed(2).padStart(8)

/** The report as a table: per-tick median (p90) ms, batched against separate, per B. */
export const renderCodecBatchTable = (report: CodecBatchReport): string => {
  const header = `Mimi, ${report.models} size, random weights, ${report.provider}${report.graphCapture ? " (graph capture)" : ""}: ms per tick (every stream encodes and decodes one 80 ms frame), median of ${report.ticks}`
  const lines = [
    header,
    "   B | batched: enc     dec   total    p90 | separate: enc     dec   total    p90 | speedup | form",
    ...report.results.map(
      (r) =>
        `${String(r.rows).padStart(4)} |       ${ms(r.batched.encodeMedianMs)}${ms(r.batched.decodeMedianMs)}${ms(r.batched.medianMs)}${ms(r.batched.p90Ms)} |        ${ms(r.separate.encodeMedianMs)}${ms(r.separate.decodeMedianMs)}${ms(r.separate.medianMs)}${ms(r.separate.p90Ms)} | ${(r.separate.medianMs / r.batched.medianMs).toFixed(2).padStart(6)}x | ${r.form}`,
    ),
  ]
  return lines.join("\n")
}
