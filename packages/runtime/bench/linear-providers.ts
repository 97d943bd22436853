/**
 * `linear()` per precision and execution provider: how long one run of a stack of square linear
 * layers takes, and how far its output is from JavaScript references.
 *
 *   node bench/linear-providers.ts [--providers webgpu,cpu] [--size 4096] [--layers 8] [--runs 30]
 *                                  [--k-pad 0] [out.json]
 *
 * Precisions: float32, float16, int8 and int4, the last two also with `accuracyLevel: 4` (int8
 * activations on the CPU). Each model is `x [1, size]` through `layers` linear layers of `size × size` (own random weights each,
 * uniform in ±1/√size), saved to a temporary folder and opened once per provider (GPU providers with
 * `disableCpuFallback`, so a node that would silently run on the CPU fails the session instead).
 * Run time is the wall time of `session.run` seen from the main thread (thread hop included), median
 * and 90th percentile over `--runs` runs after 3 warm-up runs. Errors are relative RMS against
 * (a) a float64 JS reference using the weights the graph computes with (fp16-rounded or dequantized):
 * kernel exactness, and (b) the float32 weights: what the precision costs. `--k-pad n` makes the
 * input `size + n` wide (a K that is not a multiple of the block size).
 * Prints a table; writes JSON to the given path or `bench-results/linear-providers.json`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, ManagedRuntime } from "effect"
import {
  dequantizeBlockwise,
  type ExecutionProvider,
  f16ToFloat32,
  float32ToF16,
  GraphBuilder,
  type LinearPrecision,
  linear,
  OrtSession,
  quantizeBlockwise,
} from "../src/index.ts"

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

interface Args {
  providers: ExecutionProvider[]
  size: number
  layers: number
  runs: number
  kPad: number
  out: string
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: Args = {
    providers: ["cpu"],
    size: 4096,
    layers: 8,
    runs: 30,
    kPad: 0,
    out: path.join(packageDir, "bench-results", "linear-providers.json"),
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--providers") args.providers = argv[++i]!.split(",") as ExecutionProvider[]
    else if (a === "--size") args.size = Number(argv[++i])
    else if (a === "--layers") args.layers = Number(argv[++i])
    else if (a === "--runs") args.runs = Number(argv[++i])
    else if (a === "--k-pad") args.kPad = Number(argv[++i])
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`)
    else args.out = path.resolve(a)
  }
  return args
}

const random = (n: number, seed: number, scale: number) => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    out[i] = (seed / 2 ** 32 - 0.5) * 2 * scale
  }
  return out
}

/** `x · Wᵀ` in float64 for `W [out, inp]`, one row of x. */
const applyLinear = (x: Float64Array, w: Float32Array, out: number, inp: number) => {
  const y = new Float64Array(out)
  for (let o = 0; o < out; o++) {
    let s = 0
    const row = o * inp
    for (let i = 0; i < inp; i++) s += x[i]! * w[row + i]!
    y[o] = s
  }
  return y
}

const relRms = (a: ArrayLike<number>, ref: ArrayLike<number>) => {
  let e = 0
  let r = 0
  for (let i = 0; i < ref.length; i++) {
    e += (a[i]! - ref[i]!) ** 2
    r += ref[i]! ** 2
  }
  return Math.sqrt(e / r)
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

/** The weight each layer computes with, for the exactness reference. */
const effectiveWeight = (w: Float32Array, shape: [number, number], precision: LinearPrecision) => {
  if (precision === "float32") return w
  if (precision === "float16") return f16ToFloat32(float32ToF16(w))
  return dequantizeBlockwise(
    quantizeBlockwise(w, shape, { bits: precision === "int4" ? 4 : 8, blockSize: 32 }),
  )
}

interface Variant {
  precision: LinearPrecision
  accuracyLevel: 0 | 4
  label: string
}

const VARIANTS: ReadonlyArray<Variant> = [
  { precision: "float32", accuracyLevel: 0, label: "float32" },
  { precision: "float16", accuracyLevel: 0, label: "float16" },
  { precision: "int8", accuracyLevel: 0, label: "int8" },
  { precision: "int8", accuracyLevel: 4, label: "int8 acc4" },
  { precision: "int4", accuracyLevel: 0, label: "int4" },
  { precision: "int4", accuracyLevel: 4, label: "int4 acc4" },
]

interface Row {
  precision: string
  provider: ExecutionProvider
  ok: boolean
  error?: string
  createMs?: number
  medianMs?: number
  p90Ms?: number
  relErrVsOpWeights?: number
  relErrVsFloat?: number
  weightMB: number
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const { size, layers } = args
  const inp0 = size + args.kPad
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "linear-providers-"))
  const weights = Array.from({ length: layers }, (_, l) => {
    const inp = l === 0 ? inp0 : size
    return { data: random(size * inp, 1000 + l, 1 / Math.sqrt(inp)), shape: [size, inp] as [number, number] }
  })
  const x = random(inp0, 7, 1)
  let floatRef = Float64Array.from(x)
  for (const w of weights) floatRef = applyLinear(floatRef, w.data, w.shape[0], w.shape[1])

  // One worker for the whole run: "create ms" is then the session's creation alone.
  const runtime = ManagedRuntime.make(OrtSession.layer({ executionProviders: ["cpu"] }))
  const rows: Row[] = []
  try {
    for (const { precision, accuracyLevel, label } of VARIANTS) {
      const g = new GraphBuilder(`linear_${precision}`)
      let y = g.input("x", "float32", [1, inp0])
      let opRef = Float64Array.from(x)
      for (const [l, w] of weights.entries()) {
        y = linear(g, y, w, { name: `layer${l}`, precision, accuracyLevel })
        opRef = applyLinear(opRef, effectiveWeight(w.data, w.shape, precision), w.shape[0], w.shape[1])
      }
      g.output(y, "y", "float32", [1, size])
      const weightMB = g.initializerBytes / 1e6
      const model = g.save(path.join(dir, `${precision}-${accuracyLevel}.onnx`))
      for (const provider of args.providers) {
        const result = await runtime.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const ort = yield* OrtSession
              let start = performance.now()
              const session = yield* ort.open({
                model,
                executionProviders: [provider],
                disableCpuFallback: provider !== "cpu",
              })
              const createMs = performance.now() - start
              const feeds = { x: { type: "float32" as const, dims: [1, inp0], data: x } }
              let out = yield* session.run(feeds)
              for (let i = 0; i < 2; i++) out = yield* session.run(feeds)
              const times: number[] = []
              for (let i = 0; i < args.runs; i++) {
                start = performance.now()
                out = yield* session.run(feeds)
                times.push(performance.now() - start)
              }
              const got = out.y!.data as Float32Array
              return {
                precision: label,
                provider,
                ok: true,
                createMs: Math.round(createMs),
                medianMs: Math.round(quantile(times, 0.5) * 100) / 100,
                p90Ms: Math.round(quantile(times, 0.9) * 100) / 100,
                relErrVsOpWeights: Number(relRms(got, opRef).toExponential(2)),
                relErrVsFloat: Number(relRms(got, floatRef).toExponential(2)),
                weightMB: Math.round(weightMB * 10) / 10,
              } satisfies Row
            }),
          ).pipe(
            Effect.catch((error) =>
              Effect.succeed({
                precision: label,
                provider,
                ok: false,
                error: error.message.trim(),
                weightMB: Math.round(weightMB * 10) / 10,
              } satisfies Row),
            ),
          ),
        )
        rows.push(result)
        console.error(`${label} on ${provider}: ${result.ok ? `${result.medianMs} ms` : result.error}`)
      }
      fs.rmSync(model, { force: true })
      fs.rmSync(`${model}.data`, { force: true })
    }
  } finally {
    await runtime.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const header = [
    "precision",
    "provider",
    "weights MB",
    "create ms",
    "median ms",
    "p90 ms",
    "err vs op weights",
    "err vs float",
  ]
  console.log(`\nx [1, ${inp0}] through ${layers} linear layers of ${size} outputs; relative RMS errors`)
  console.log(header.join(" | "))
  for (const r of rows)
    console.log(
      r.ok
        ? [
            r.precision,
            r.provider,
            r.weightMB,
            r.createMs,
            r.medianMs,
            r.p90Ms,
            r.relErrVsOpWeights,
            r.relErrVsFloat,
          ].join(" | ")
        : `${r.precision} | ${r.provider} | ${r.weightMB} | failed: ${r.error}`,
    )
  const report = {
    benchmark: "linear-providers",
    date: new Date().toISOString(),
    command: `node bench/linear-providers.ts ${process.argv.slice(2).join(" ")}`.trim(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    model: { input: inp0, size, layers, blockSize: 32 },
    rows,
  }
  fs.mkdirSync(path.dirname(args.out), { recursive: true })
  fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`wrote ${args.out}`)
}

await main()
