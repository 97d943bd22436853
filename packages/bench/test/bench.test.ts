import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runNodeIsolated } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { defaultVariants, parseVariant, renderTable, runBench, UPSTREAM, variantName } from "../src/index.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-smoke-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const summaryShape = {
  p50: expect.any(Number),
  p99: expect.any(Number),
  max: expect.any(Number),
  mean: expect.any(Number),
  min: expect.any(Number),
  n: 8,
}

describe("the LM variants measured by default", () => {
  it("are the captured step on WebGPU and plain gqa elsewhere", () => {
    expect(defaultVariants("webgpu")).toEqual([parseVariant("gqa-capture")])
    expect(defaultVariants("cpu")).toEqual([parseVariant("gqa")])
  })

  it("are named as parsed, each form and its combinations", () => {
    for (const name of ["gqa", "gqa-capture", "gqa-f32", "gqa-f32-capture", "mha", "matmul"])
      expect(variantName(parseVariant(name))).toBe(name)
    expect(() => parseVariant("gqa-f16")).toThrow(/unknown LM variant "gqa-f16"/)
  })
})

describe("the real-time benchmark on the CPU provider (tiny models)", () => {
  it("writes a JSON report with every figure for each precision and context, and a table", async () => {
    const out = path.join(dir, "report.json")
    const report = await runBench({
      provider: "cpu",
      models: "tiny",
      precisions: ["int8", "int4", "float16"],
      contexts: [130, 160],
      variants: [parseVariant("gqa"), parseVariant("mha")],
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
        [130, 160].flatMap((c) => [`${p}@${c}/gqa`, `${p}@${c}/mha`]),
      ),
    )
    for (const run of json.runs) {
      expect(run).toMatchObject({
        status: "ok",
        // 8 frames in each of 2 schedules; 5 fit after the 125 prompt rows at context 130.
        cacheRestarts: run.variant === "mha" || run.context === 160 ? 0 : 3,
        sampling: "topk",
        cpuFallbackAllowed: false,
        encodeMs: summaryShape,
        lmStepMs: summaryShape,
        decodeMs: summaryShape,
        frameMs: summaryShape,
        frameOneDecodeMs: summaryShape,
        schedule: "overlapped",
        schedules: Object.fromEntries(
          ["overlapped", "sequential"].map((s) => [
            s,
            Object.fromEntries(
              ["encodeMs", "lmStepMs", "decodeMs", "userDecodeMs", "frameMs", "frameOneDecodeMs"].map((k) => [
                k,
                summaryShape,
              ]),
            ),
          ]),
        ),
        restartMs: { ...summaryShape, n: 2 },
        promptFrames: 125,
      })
      for (const key of [
        "timeToFirstFrameMs",
        "firstFrameMs",
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
    // Converted weights are removed once measured; the random checkpoints stay for reuse.
    expect(fs.readdirSync(path.join(dir, "work")).filter((f) => f.endsWith(".bin"))).toEqual([])
    const table = renderTable(report)
    expect(table.split("\n")).toHaveLength(3 + 12)
    expect(table).toMatch(/\| upstream PyTorch bf16 ctx 3000 \(H100\) \| 39\.7 \/ 63\.8 \/ 93\.8 \|/)
    expect(table).toMatch(/\| int4 ctx 160 gqa \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/)
    expect(table).toMatch(/\| int4 ctx 160 mha \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/)
  })

  it("with codesOnDevice, runs the agent's codec in the LM's worker and measures both schedules' stages in turn", async () => {
    const base = {
      provider: "cpu" as const,
      models: "tiny" as const,
      precisions: ["int8" as const],
      contexts: [160],
      variants: [parseVariant("gqa")],
      frames: 8,
      warmup: 2,
      restarts: 1,
      workDir: path.join(dir, "work"),
      out: path.join(dir, "on-device.json"),
      workers: 1,
      intraOpThreads: 1,
      depformerSteps: 8,
      codesOnDevice: true,
      log: () => {},
    }
    const report = await runBench(base)
    expect(report.codesOnDevice).toBe(true)
    const run = report.runs[0]!
    expect(run.status).toBe("ok")
    for (const f of Object.values(run.schedules!)) {
      expect(f.frameMs.n).toBe(8)
      expect(f.frameOneDecodeMs!.min).toBeGreaterThanOrEqual(
        f.encodeMs!.min + f.lmStepMs!.min + f.decodeMs!.min - 1,
      )
    }
    await expect(runBench({ ...base, codecProvider: "auto" })).rejects.toThrow(
      "codesOnDevice needs the agent's codec on the LM's provider cpu, not auto",
    )
  })

  it("with profileDir, breaks the LM step's and the codec's median runs down by operator", async () => {
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
    const profile = report.runs[0]!.profile!
    expect(profile.file.startsWith(path.join(profileDir, "lm-int8-ctx160-gqa"))).toBe(true)
    expect(profile.runs).toBeGreaterThan(4)
    expect(profile.nodes).toBeGreaterThan(100)
    expect(profile.nodeMs).toBeGreaterThan(0)
    expect(profile.nodeMs).toBeLessThanOrEqual(profile.medianRunMs)
    expect(profile.byOp.map((o) => o.op)).toContain("GroupQueryAttention")
    expect(profile.byOp.reduce((n, o) => n + o.nodes, 0)).toBe(profile.nodes)
    // The agent's codec, profiled too: its encode and decode sessions.
    const codec = report.codecProfile!
    expect(codec.encode!.file.startsWith(path.join(profileDir, "mimi-agent-encode"))).toBe(true)
    expect(codec.encode!.byOp.map((o) => o.op)).toContain("ArgMin")
    expect(codec.decode!.file.startsWith(path.join(profileDir, "mimi-agent-decode"))).toBe(true)
    expect(codec.decode!.nodes).toBeGreaterThan(100)
  })
})

describe("the benchmark's command line", () => {
  it.each([
    [["--user-codec-provider", "gpu"], '--user-codec-provider must be one of webgpu, cpu, cuda, got "gpu"'],
    [["--codec-capture", "yes"], '--codec-capture must be one of on, off, got "yes"'],
    [["--precisions", "int8,int3"], '--precisions must be one of float16, int8, int4, got "int3"'],
    [["--frames", "0"], '--frames must be a whole number ≥ 1, got "0"'],
  ])("refuses %j by name before any work", (flags, message) => {
    const run = runNodeIsolated([path.join(import.meta.dirname, "../src/cli.ts"), ...flags], 60_000)
    expect(run.status).not.toBe(0)
    expect(run.stderrTail).toContain(message)
  })
})
