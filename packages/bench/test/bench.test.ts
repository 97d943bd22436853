import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runNodeIsolated } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { defaultVariants, parseVariant, renderTable, runBench, UPSTREAM, variantName } from "../src/index.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-smoke-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const summaryShape = (n: number) => ({
  p50: expect.any(Number),
  p99: expect.any(Number),
  max: expect.any(Number),
  mean: expect.any(Number),
  min: expect.any(Number),
  n,
})

describe("the LM variants measured by default", () => {
  it("are the captured step on WebGPU and plain gqa elsewhere", () => {
    expect(defaultVariants("webgpu")).toEqual([parseVariant("gqa-capture")])
    expect(defaultVariants("cpu")).toEqual([parseVariant("gqa")])
  })

  it("are named as parsed, each form and its combinations", () => {
    for (const name of ["gqa", "gqa-capture", "gqa-capture-a8", "gqa-f32", "gqa-f32-capture"])
      expect(variantName(parseVariant(name))).toBe(name)
    expect(() => parseVariant("gqa-f16")).toThrow(/unknown LM variant "gqa-f16"/)
    expect(() => parseVariant("mha")).toThrow(
      /unknown LM variant "mha" \(gqa, gqa-capture, gqa-capture-a8, gqa-f32, gqa-f32-capture\)/,
    )
  })
})

describe("the real-time benchmark through LmGen and MimiCodec on the CPU provider (tiny models)", () => {
  it("writes a JSON report with every figure for each precision, context and variant, and a table", async () => {
    const out = path.join(dir, "report.json")
    const report = await runBench({
      provider: "cpu",
      models: "tiny",
      precisions: ["int8", "int4", "float16"],
      contexts: [130, 160],
      variants: [parseVariant("gqa"), parseVariant("gqa-f32")],
      // The cache holds `context` frames: frames past context 130 restart the prompt.
      maxFrames: "context",
      frames: 8,
      warmup: 2,
      restarts: 2,
      workDir: path.join(dir, "work"),
      out,
      workers: 1,
      intraOpThreads: 1,
      codecSpinning: false,
      depformerSteps: 8,
      log: () => {},
    })
    const json = JSON.parse(fs.readFileSync(out, "utf8"))
    expect(json).toEqual(JSON.parse(JSON.stringify(report)))
    expect(json).toMatchObject({
      benchmark: "personaplex-realtime",
      provider: "cpu",
      models: "tiny",
      upstream: JSON.parse(JSON.stringify(UPSTREAM)),
      depformerSteps: 8,
    })
    expect(json.lmParameters).toBeGreaterThan(1e6)
    expect(
      json.runs.map(
        (r: { precision: string; context: number; variant: string }) =>
          `${r.precision}@${r.context}/${r.variant}`,
      ),
    ).toEqual(
      ["int8", "int4", "float16"].flatMap((p) =>
        [130, 160].flatMap((c) => [`${p}@${c}/gqa`, `${p}@${c}/gqa-f32`]),
      ),
    )
    for (const [i, run] of json.runs.entries()) {
      expect(run).toMatchObject({
        status: "ok",
        engine: "fused",
        kvCache: run.variant === "gqa" ? "float16" : "float32",
        graphCapture: false,
        capacity: run.context,
        // Each precision's first configuration converts; the others find its weights in the cache.
        graphSource: i % 4 === 0 ? "built" : "cache",
        encodeMs: summaryShape(8),
        lmStepMs: summaryShape(8),
        decodeMs: summaryShape(8),
        frameMs: summaryShape(8),
        frameOneDecodeMs: summaryShape(8),
        schedule: "overlapped",
        schedules: Object.fromEntries(
          ["overlapped", "sequential"].map((s) => [
            s,
            Object.fromEntries(
              ["encodeMs", "lmStepMs", "decodeMs", "userDecodeMs", "frameMs", "frameOneDecodeMs"].map((k) => [
                k,
                summaryShape(8),
              ]),
            ),
          ]),
        ),
        restartMs: summaryShape(2),
        // 62 voice frames, 6 silence, 50 text tokens, 6 silence.
        promptFrames: 124,
      })
      // 16 measured frames after the prompt: at context 130 the cache fills and the prompt restarts.
      if (run.context === 160) expect(run.cacheRestarts).toBe(0)
      else expect(run.cacheRestarts).toBeGreaterThanOrEqual(2)
      if (run.graphSource === "built") {
        expect(run.convertMs).toBeGreaterThan(0)
        expect(run.convertMs).toBeLessThanOrEqual(run.makeMs)
      } else expect(run.convertMs).toBeUndefined()
      expect(run.openMs).toBeCloseTo(run.makeMs - (run.convertMs ?? 0), 6)
      expect(run.timeToFirstFrameMs).toBeGreaterThanOrEqual(run.makeMs + run.firstFrameMs - 1)
      for (const key of [
        "timeToFirstFrameMs",
        "firstFrameMs",
        "makeMs",
        "openMs",
        "systemPromptMs",
        "restartPerTokenMs",
        "resetMs",
        "peakRssMiB",
        "weightsBytes",
      ])
        expect(run[key], key).toBeGreaterThan(0)
      for (const f of Object.values(run.schedules) as Array<Record<string, { min: number }>>) {
        // A frame's wall time holds its encode, LM step and agent decode one after the other.
        expect(f.frameOneDecodeMs!.min).toBeGreaterThanOrEqual(
          f.encodeMs!.min + f.lmStepMs!.min + f.decodeMs!.min - 1,
        )
        expect(f.frameMs!.min).toBeGreaterThanOrEqual(f.frameOneDecodeMs!.min)
      }
    }
    // int4 weights take less room than int8's, int8's less than float16's.
    const bytes = (p: string) => json.runs.find((r: { precision: string }) => r.precision === p).weightsBytes
    expect(bytes("int4")).toBeLessThan(bytes("int8"))
    expect(bytes("int8")).toBeLessThan(bytes("float16"))
    // Converted weights are removed once measured; the random checkpoints stay for reuse.
    expect(fs.existsSync(path.join(dir, "work", "converted"))).toBe(false)
    expect(fs.readdirSync(path.join(dir, "work")).sort()).toEqual([
      "lm-random.safetensors",
      "mimi-random.safetensors",
    ])
    const table = renderTable(report)
    expect(table.split("\n")).toHaveLength(3 + 12)
    expect(table).toMatch(/\| upstream PyTorch bf16 ctx 3000 \(H100\) \| 39\.7 \/ 63\.8 \/ 93\.8 \|/)
    expect(table).toMatch(/\| int4 ctx 160 gqa \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/)
    expect(table).toMatch(/\| int4 ctx 160 gqa-f32 \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/)
  })

  it("with the engine's default cache (sliding past the context), never restarts the prompt", async () => {
    const report = await runBench({
      provider: "cpu",
      models: "tiny",
      precisions: ["int8"],
      contexts: [130],
      frames: 8,
      warmup: 1,
      restarts: 1,
      workDir: path.join(dir, "work"),
      out: path.join(dir, "sliding.json"),
      workers: 1,
      intraOpThreads: 1,
      depformerSteps: 8,
      log: () => {},
    })
    const run = report.runs[0]!
    expect(run).toMatchObject({ status: "ok", variant: "gqa", cacheRestarts: 0, graphSource: "built" })
    expect(run.capacity).toBeUndefined()
    expect(run.frameMs!.n).toBe(8)
  })

  it("with profileDir, breaks the agent codec's median runs down by operator", async () => {
    const profileDir = path.join(dir, "profiles")
    const report = await runBench({
      provider: "cpu",
      models: "tiny",
      precisions: ["int8"],
      contexts: [160],
      frames: 4,
      warmup: 1,
      restarts: 1,
      workDir: path.join(dir, "work"),
      out: path.join(dir, "profiled.json"),
      workers: 1,
      intraOpThreads: 1,
      depformerSteps: 8,
      profileDir,
      log: () => {},
    })
    expect(report.runs[0]!.status).toBe("ok")
    const codec = report.codecProfile!
    expect(codec.encode!.file.startsWith(path.join(profileDir, "mimi-agent-encode"))).toBe(true)
    expect(codec.encode!.byOp.map((o) => o.op)).toContain("ArgMin")
    expect(codec.encode!.runs).toBeGreaterThan(4)
    expect(codec.decode!.file.startsWith(path.join(profileDir, "mimi-agent-decode"))).toBe(true)
    expect(codec.decode!.nodes).toBeGreaterThan(100)
    expect(codec.decode!.nodeMs).toBeLessThanOrEqual(codec.decode!.medianRunMs)
    expect(codec.decode!.byOp.reduce((n, o) => n + o.nodes, 0)).toBe(codec.decode!.nodes)
  })
})

describe("the benchmark's command line", () => {
  it.each([
    [["--user-codec-provider", "gpu"], '--user-codec-provider must be one of webgpu, cpu, cuda, got "gpu"'],
    [["--codec-capture", "yes"], '--codec-capture must be one of on, off, got "yes"'],
    [["--precisions", "int8,int3"], '--precisions must be one of float16, int8, int4, got "int3"'],
    [["--frames", "0"], '--frames must be a whole number ≥ 1, got "0"'],
    [["--max-frames", "all"], '--max-frames must be a whole number ≥ 2, got "all"'],
    [["--variants", "mha"], 'unknown LM variant "mha"'],
  ])("refuses %j by name before any work", (flags, message) => {
    const run = runNodeIsolated([path.join(import.meta.dirname, "../src/cli.ts"), ...flags], 60_000)
    expect(run.status).not.toBe(0)
    expect(run.stderrTail).toContain(message)
  })
})
