/**
 * Per-frame latency of streaming Mimi at the REAL PersonaPlex size (79 M parameters) on the CPU
 * provider. Weights are random (scaled by fan-in so activations stay O(1)), written as a
 * safetensors checkpoint with the upstream tensor names into a temp folder, then loaded through
 * `MimiCodec.layer` exactly as a real checkpoint would be.
 *
 *   pnpm --filter @personaplex/codec bench [-- --frames 100 --warmup 5 --threads 2 --state here --out file.json]
 *
 * `--state here` (default on the CPU): the streaming state lives in this thread and the graph returns
 * the rings' new entries; `--state worker`: the session's worker keeps it and the graph writes the
 * rings (the form used on a GPU, `stateOnDevice`).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { FRAME_SIZE, MimiCodec, MimiConfig, SAMPLE_RATE, writeRandomMimiCheckpoint } from "../src/index.ts"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    frames: { type: "string", default: "100" },
    warmup: { type: "string", default: "5" },
    threads: { type: "string", default: "2" },
    state: { type: "string", default: "here" },
    out: { type: "string", default: path.join(import.meta.dirname, "results", "mimi-latency.json") },
  },
})
const frames = Number(args.frames)
const warmup = Number(args.warmup)
const threads = Number(args.threads)
if (args.state !== "here" && args.state !== "worker")
  throw new Error(`--state must be "here" or "worker", got "${args.state}"`)
const stateOnDevice = args.state === "worker"

const config = MimiConfig.personaplex

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const summary = (times: ReadonlyArray<number>) => {
  const sorted = [...times].sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  }
}

/** Speech-like test input: a few harmonics with a slow envelope plus a little deterministic hiss. */
const inputFrame = (t: number) =>
  Float32Array.from({ length: FRAME_SIZE }, (_, i) => {
    const time = (t * FRAME_SIZE + i) / SAMPLE_RATE
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * time)
    return (
      0.2 * envelope * (Math.sin(2 * Math.PI * 180 * time) + 0.5 * Math.sin(2 * Math.PI * 360 * time)) +
      0.01 * Math.sin(12.9898 * (t * FRAME_SIZE + i) ** 1.5)
    )
  })

const main = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mimi-bench-"))
  try {
    const checkpoint = path.join(dir, "tokenizer-random.safetensors")
    let t0 = performance.now()
    const counts = writeRandomMimiCheckpoint(checkpoint, config, 20261125)
    const writeMs = performance.now() - t0
    console.log(
      `checkpoint: ${counts.tensors} tensors, ${(counts.parameters / 1e6).toFixed(2)} M parameters, ${(counts.stored / 1e6).toFixed(2)} M stored values, ${(fs.statSync(checkpoint).size / 2 ** 20).toFixed(0)} MiB, written in ${writeMs.toFixed(0)} ms`,
    )

    const ort = OrtSession.layer({ executionProviders: ["cpu"], intraOpThreads: threads })
    const program = Effect.gen(function* () {
      const codec = yield* MimiCodec
      const loadMs = performance.now() - t0
      const encodeMs: number[] = []
      const decodeMs: number[] = []
      let cpuMs = 0
      let peak = 0
      const distinct = Array.from({ length: config.numCodebooks }, () => new Set<number>())
      for (let t = 0; t < warmup + frames; t++) {
        const frame = inputFrame(t)
        const cpu = process.cpuUsage()
        const a = performance.now()
        const codes = yield* codec.encode(frame)
        const b = performance.now()
        const pcm = yield* codec.decode(codes)
        const c = performance.now()
        const used = process.cpuUsage(cpu)
        for (const v of pcm) peak = Math.max(peak, Math.abs(v))
        codes.forEach((code, k) => {
          distinct[k]!.add(code)
        })
        if (t >= warmup) {
          encodeMs.push(b - a)
          decodeMs.push(c - b)
          cpuMs += (used.user + used.system) / 1000
        }
      }
      return {
        loadMs,
        encodeMs,
        decodeMs,
        cpuMsPerFrame: cpuMs / frames,
        peak,
        distinctCodes: distinct.map((d) => d.size),
      }
    }).pipe(Effect.provide(MimiCodec.layer({ checkpoint, config, stateOnDevice }).pipe(Layer.provide(ort))))
    t0 = performance.now()
    const loadAvgBefore = os.loadavg()
    const result = await Effect.runPromise(program)

    const encode = summary(result.encodeMs)
    const decode = summary(result.decodeMs)
    const both = summary(result.encodeMs.map((e, i) => e + result.decodeMs[i]!))
    const frameMs = (1000 * FRAME_SIZE) / SAMPLE_RATE
    const rtf = both.mean / frameMs
    const row = (label: string, s: ReturnType<typeof summary>) =>
      `${label.padEnd(16)} ${s.p50.toFixed(2).padStart(8)} ${s.p99.toFixed(2).padStart(8)} ${s.mean.toFixed(2).padStart(8)} ${s.max.toFixed(2).padStart(8)}`
    console.log(
      `\nMimi (PersonaPlex size), CPU provider, ${threads} intra-op threads, state ${args.state}, ${frames} frames after ${warmup} warm-up`,
    )
    console.log(
      `load (graph build + 2 sessions): ${result.loadMs.toFixed(0)} ms; host: ${os.cpus().length} cores, load avg before ${loadAvgBefore.map((l) => l.toFixed(2)).join(" ")}, after ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    )
    console.log(
      `${"ms per frame".padEnd(16)} ${"p50".padStart(8)} ${"p99".padStart(8)} ${"mean".padStart(8)} ${"max".padStart(8)}`,
    )
    console.log(row("encode", encode))
    console.log(row("decode", decode))
    console.log(row("encode+decode", both))
    console.log(
      `process CPU time per frame (all threads, encode+decode): ${result.cpuMsPerFrame.toFixed(1)} ms`,
    )
    console.log(
      `real-time factor (mean encode+decode / ${frameMs} ms): ${rtf.toFixed(3)}; decoded peak |x| ${result.peak.toFixed(3)}; distinct codes per codebook: ${result.distinctCodes.join(" ")}`,
    )

    const report = {
      benchmark: "mimi-latency",
      date: new Date().toISOString(),
      config: "MimiConfig.personaplex",
      parameters: counts.parameters,
      provider: "cpu",
      intraOpThreads: threads,
      state: args.state,
      frames,
      warmup,
      host: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        loadavgBefore: loadAvgBefore,
        loadavgAfter: os.loadavg(),
        node: process.version,
      },
      cpuMsPerFrame: result.cpuMsPerFrame,
      loadMs: result.loadMs,
      encodeMs: encode,
      decodeMs: decode,
      encodeDecodeMs: both,
      realTimeFactor: rtf,
      decodedPeak: result.peak,
      distinctCodes: result.distinctCodes,
    }
    fs.mkdirSync(path.dirname(args.out), { recursive: true })
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`JSON: ${args.out}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
