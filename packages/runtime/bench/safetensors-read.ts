/**
 * Safetensors read throughput: the package's `Checkpoint` against plain `fs` reads of the same file.
 *
 *   node bench/safetensors-read.ts [--size-mb 1200] [--repeat 3] [--dir /tmp] [--keep] [out.json]
 *
 * Writes a file of several BF16 and F32 tensors (at least 1 GB by default) into a temporary folder,
 * reads it once untimed to warm the page cache, then times each method `--repeat` times. All figures
 * are warm-cache figures: dropping the cache needs root, which a benchmark should not ask for.
 * Prints a table; writes JSON to the given path or to `bench-results/safetensors-read.json`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Checkpoint } from "../src/safetensors/Checkpoint.ts"
import { writeSafetensors } from "../src/safetensors/write.ts"

interface Args {
  sizeMb: number
  repeat: number
  dir: string
  keep: boolean
  out: string
}

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: Args = {
    sizeMb: 1200,
    repeat: 3,
    dir: os.tmpdir(),
    keep: false,
    out: path.join(packageDir, "bench-results", "safetensors-read.json"),
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--size-mb") args.sizeMb = Number(argv[++i])
    else if (a === "--repeat") args.repeat = Number(argv[++i])
    else if (a === "--dir") args.dir = argv[++i]!
    else if (a === "--keep") args.keep = true
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`)
    else args.out = path.resolve(a)
  }
  if (!(args.sizeMb >= 16) || !(args.repeat >= 1))
    throw new Error("--size-mb must be >= 16 and --repeat >= 1")
  return args
}

interface PlannedTensor {
  name: string
  dtype: "BF16" | "F32"
  shape: [number, number]
  bytes: number
}

/** Alternating BF16 and F32 matrices of 4096 columns, about `sizeMb` in all, in 12 tensors. */
const plan = (sizeMb: number): PlannedTensor[] => {
  const count = 12
  const cols = 4096
  const tensors: PlannedTensor[] = []
  for (let i = 0; i < count; i++) {
    const dtype = i % 2 === 0 ? "BF16" : "F32"
    const width = dtype === "BF16" ? 2 : 4
    const rows = Math.max(1, Math.round((sizeMb * 1e6) / count / (cols * width)))
    tensors.push({ name: `layers.${i}.weight`, dtype, shape: [rows, cols], bytes: rows * cols * width })
  }
  return tensors
}

const writeFile = (file: string, tensors: ReadonlyArray<PlannedTensor>) => {
  // Random-looking but finite values: a bf16/f32 pattern repeated, written in 16 MiB pieces.
  const piece = new Uint8Array(16 * 2 ** 20)
  const f32 = new Float32Array(piece.buffer)
  let seed = 12345
  for (let i = 0; i < f32.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    f32[i] = seed / 2 ** 32 - 0.5
  }
  writeSafetensors(
    file,
    tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: (emit: (chunk: Uint8Array) => void) => {
        for (let done = 0; done < t.bytes; done += piece.length)
          emit(piece.subarray(0, Math.min(piece.length, t.bytes - done)))
      },
    })),
    { format: "pt" },
  )
}

interface Measurement {
  method: string
  bytes: number
  runsMs: number[]
  bestMBps: number
  medianMBps: number
  note: string
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const measure = async (
  method: string,
  bytes: number,
  repeat: number,
  note: string,
  body: () => void | Promise<void>,
): Promise<Measurement> => {
  const runsMs: number[] = []
  for (let r = 0; r < repeat; r++) {
    const start = performance.now()
    await body()
    runsMs.push(performance.now() - start)
  }
  const toMBps = (ms: number) => bytes / 1e6 / (ms / 1000)
  return {
    method,
    bytes,
    runsMs: runsMs.map((ms) => Math.round(ms * 10) / 10),
    bestMBps: Math.round(toMBps(Math.min(...runsMs))),
    medianMBps: Math.round(toMBps(median(runsMs))),
    note,
  }
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const dir = fs.mkdtempSync(path.join(args.dir, "safetensors-bench-"))
  const file = path.join(dir, "bench.safetensors")
  const tensors = plan(args.sizeMb)
  try {
    let start = performance.now()
    writeFile(file, tensors)
    const fileBytes = fs.statSync(file).size
    const writeMs = performance.now() - start
    console.log(
      `wrote ${(fileBytes / 1e6).toFixed(0)} MB (${tensors.length} tensors) to ${file} in ${writeMs.toFixed(0)} ms`,
    )

    // Warm the page cache so every method below reads from memory, not from the disk.
    start = performance.now()
    const fd0 = fs.openSync(file, "r")
    const warm = new Uint8Array(64 * 2 ** 20)
    while (fs.readSync(fd0, warm, 0, warm.length, null) > 0) {}
    fs.closeSync(fd0)
    console.log(`warm-up read ${(performance.now() - start).toFixed(0)} ms`)

    const bf16 = tensors.filter((t) => t.dtype === "BF16")
    const tensorBytes = tensors.reduce((a, t) => a + t.bytes, 0)
    const bf16Bytes = bf16.reduce((a, t) => a + t.bytes, 0)
    let sink = 0
    const results: Measurement[] = []

    results.push(
      await measure(
        "Checkpoint.readSync, every tensor raw",
        tensorBytes,
        args.repeat,
        "one new Uint8Array per tensor",
        () => {
          const ckpt = Checkpoint.openSync(file)
          for (const t of tensors) sink += ckpt.readSync(t.name).data.byteLength
          ckpt.close()
        },
      ),
    )
    results.push(
      await measure(
        "Checkpoint.readSync, BF16 tensors raw",
        bf16Bytes,
        args.repeat,
        "baseline for the row below",
        () => {
          const ckpt = Checkpoint.openSync(file)
          for (const t of bf16) sink += ckpt.readSync(t.name).data.byteLength
          ckpt.close()
        },
      ),
    )
    results.push(
      await measure(
        "Checkpoint.float32Sync, BF16 widened to Float32",
        bf16Bytes,
        args.repeat,
        "MB/s of stored BF16 bytes; output is twice as large",
        () => {
          const ckpt = Checkpoint.openSync(file)
          for (const t of bf16) sink += ckpt.float32Sync(t.name).data.length * 2
          ckpt.close()
        },
      ),
    )
    results.push(
      await measure(
        "fs.promises.readFile, whole file",
        fileBytes,
        args.repeat,
        "one Buffer of the file",
        async () => {
          sink += (await fs.promises.readFile(file)).byteLength
        },
      ),
    )
    results.push(
      await measure("fs.readFileSync, whole file", fileBytes, args.repeat, "one Buffer of the file", () => {
        sink += fs.readFileSync(file).byteLength
      }),
    )
    results.push(
      await measure(
        "fs.readSync, 64 MiB chunks, one reused buffer",
        fileBytes,
        args.repeat,
        "no allocation: copy-out bound",
        () => {
          const fd = fs.openSync(file, "r")
          const chunk = new Uint8Array(64 * 2 ** 20)
          for (let n = 1; n > 0; ) {
            n = fs.readSync(fd, chunk, 0, chunk.length, null)
            sink += n
          }
          fs.closeSync(fd)
        },
      ),
    )

    const widen = results[2]!
    const raw = results[1]!
    const widenOnlyMs = median(widen.runsMs) - median(raw.runsMs)
    const report = {
      benchmark: "safetensors-read",
      date: new Date().toISOString(),
      command: `node bench/safetensors-read.ts ${process.argv.slice(2).join(" ")}`.trim(),
      node: process.version,
      platform: `${os.platform()} ${os.arch()} ${os.release()}`,
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      totalMemoryGB: Math.round(os.totalmem() / 1e9),
      file: { bytes: fileBytes, tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })) },
      pageCache: "warm: the file was written and then read once, untimed, before the timed runs",
      mb: "1 MB = 10^6 bytes",
      repeat: args.repeat,
      results,
      bf16WideningOnlyMBps: widenOnlyMs > 0 ? Math.round(bf16Bytes / 1e6 / (widenOnlyMs / 1000)) : null,
    }

    const pad = (s: string, n: number) => s.padEnd(n)
    console.log(
      `\n${pad("method", 50)} ${"MB".padStart(6)} ${"best MB/s".padStart(10)} ${"median MB/s".padStart(12)}  runs (ms)`,
    )
    for (const r of results)
      console.log(
        `${pad(r.method, 50)} ${(r.bytes / 1e6).toFixed(0).padStart(6)} ${String(r.bestMBps).padStart(10)} ${String(r.medianMBps).padStart(12)}  ${r.runsMs.join(", ")}`,
      )
    console.log(
      `\nBF16 -> Float32 widening alone (median difference of the two BF16 rows): ${report.bf16WideningOnlyMBps ?? "n/a"} MB/s of BF16`,
    )
    console.log(
      `${report.pageCache}; ${report.cores} cores, load average ${report.loadAverage.join(" ")}; ${report.mb}`,
    )
    fs.mkdirSync(path.dirname(args.out), { recursive: true })
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`wrote ${args.out} (${(sink / 1e9).toFixed(1)} GB read in all)`)
  } finally {
    if (args.keep) console.log(`kept ${file}`)
    else fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
