// PersonaPlex and the compactor's LLM on one GPU: PersonaPlex built from a run configuration by
// @personaplex/stack's layers (what `personaplex run` builds), llama.cpp through @personaplex/compaction's
// engine on its GPU backend, and the loop's own switch. Cells run most important first; a cell not
// started within the time budget is reported as skipped.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { FRAME_SIZE, MimiCodec, SAMPLE_RATE } from "@personaplex/codec"
import {
  acquireLlamaEngine,
  type CompactionInput,
  Compactor,
  defaultInstructions,
  type InstructModel,
  type InstructQuantization,
  type InstructShape,
  type LlamaDevice,
  type LlamaEngine,
  type LlamaGpu,
  renderRequest,
  SCENARIOS,
  type WarmUp,
  wrapWithSystemTags,
  writeInstructGguf,
} from "@personaplex/compaction"
import { LmGen, TextTokenizer } from "@personaplex/lm"
import { FRAME_MS, type LoopOptions, runConversation, type TimingSummary } from "@personaplex/loop"
import {
  defined,
  loadRunConfig,
  loopOptions,
  modelLayer,
  resolveModelFiles,
  resolveSettings,
} from "@personaplex/stack"
import { Effect, Fiber, Layer } from "effect"
import { type Summary, summarize } from "./bench.ts"
import { type GpuMemorySampler, startGpuMemorySampler } from "./gpuMemory.ts"

/** One PersonaPlex configuration: a `personaplex run` config file (real-models.mjs writes them). */
export interface PersonaPlexCell {
  readonly precision: string
  readonly context: number
  readonly config: string
}

export interface LlmCell {
  readonly model: InstructModel
  readonly quantization: InstructQuantization
}

export interface CompactorBenchOptions {
  readonly personaplex: ReadonlyArray<PersonaPlexCell>
  readonly llms: ReadonlyArray<LlmCell>
  /** Where the GGUFs are written (kept between runs). */
  readonly workDir: string
  readonly out: string
  /** Replace parts of the LLMs' real shape (CPU runs of the whole benchmark on tiny models). */
  readonly llmShape?: Partial<InstructShape>
  readonly gpu: LlmGpu
  readonly gpuLayers?: "auto" | "max" | number
  /** llama.cpp's threads beside the GPU (default: its own; set it where the GPU backend may fall back to the CPU). */
  readonly llmThreads?: number
  /**
   * Default true: the engine keeps the instructions' state between compactions, warmed up before the
   * first (the compactor's behaviour). False: each prompt evaluated whole after a 4-token warm-up (the
   * engine before prefix reuse, for comparison).
   */
  readonly reusePrefix?: boolean
  /** LLMs whose compaction is also timed on the CPU (llama.cpp's CPU build, `cpuThreads`). */
  readonly cpuLlms: ReadonlyArray<LlmCell>
  readonly cpuThreads: number
  /** Tokens generated per timed compaction (the compactor's default budget: 300). */
  readonly tokens: number
  /** PersonaPlex frames timed alone, each configuration (paced at 80 ms, as a conversation runs). */
  readonly frames: number
  /** Seconds of each of the loop's two windows in the switch measurement (0: no loop run). */
  readonly loopWindowSeconds: number
  /** No cell starts after this many seconds from the start. */
  readonly budgetSeconds: number
  readonly command?: string
  readonly log?: (line: string) => void
}

type LlmGpu = Exclude<LlamaGpu, false>

export interface CompactionTiming {
  /** Request to last token. */
  readonly ms: number
  /** Request to first generated token (the prompt's prefill). */
  readonly prefillMs: number
  readonly promptTokens: number
  /** Of `promptTokens`, those llama.cpp evaluated and those whose state it kept from the request before. */
  readonly promptTokensEvaluated: number
  readonly promptTokensReused: number
  readonly tokens: number
  readonly tokensPerSecond: number
}

export interface CellResult {
  readonly llm: string
  readonly status: "ok" | "failed" | "skipped"
  readonly error?: string
  readonly device?: LlamaDevice
  readonly loadMs?: number
  /** The engine's warm-up after loading (the compactor's instructions and GPU pipelines). */
  readonly warmUp?: WarmUp
  /** GPU memory in use: PersonaPlex alone, then with the LLM loaded, then the peak of the cell (both working). */
  readonly personaplexMiB?: number
  readonly withLlmMiB?: number
  readonly peakMiB?: number
  /** What a 16 GiB / 24 GiB card would have left at the peak. */
  readonly left16GiB?: number
  readonly left24GiB?: number
  /** A 30 s window's transcript compacted with `tokens` generated, PersonaPlex idle. */
  readonly compaction?: CompactionTiming
  /** The same compaction while PersonaPlex runs frames on the same GPU. */
  readonly compactionBesideFrames?: CompactionTiming
  /** PersonaPlex's frames (encode, LM step, decode) while that compaction ran. */
  readonly framesDuringCompaction?: Summary
  readonly lateFramesDuringCompaction?: number
  /** The loop (`runConversation`) with this compactor: each switch's pause and the compaction in it. */
  readonly loop?: {
    readonly pauseMs: ReadonlyArray<number>
    readonly compactionMs: ReadonlyArray<number>
    /** The part of each pause the loop spent waiting for the compaction (the report's `compactionWaitMs`). */
    readonly compactionWaitMs: ReadonlyArray<number>
    readonly sources: ReadonlyArray<string>
    readonly frames: Summary
    readonly lateFrames: number
  }
}

export interface PersonaPlexResult {
  readonly precision: string
  readonly context: number
  readonly config: string
  readonly status: "ok" | "failed" | "skipped"
  readonly error?: string
  readonly openMs?: number
  readonly personaplexMiB?: number
  /** Frames alone, paced as a conversation (80 ms). */
  readonly frames?: Summary
  readonly lateFrames?: number
  readonly cells: Array<CellResult>
}

export interface CompactorBenchReport {
  readonly benchmark: "compactor-beside-personaplex"
  readonly date: string
  readonly command?: string
  readonly host: {
    readonly cores: number
    readonly cpu?: string
    readonly gpu?: string
    readonly node: string
  }
  readonly gpu: LlmGpu
  readonly reusePrefix: boolean
  readonly tokens: number
  readonly transcriptWords: number
  readonly llms: Array<{
    readonly name: string
    readonly bytes: number
    readonly parameters: number
    readonly writeMs: number
  }>
  readonly cpu: Array<{
    readonly llm: string
    readonly status: "ok" | "failed" | "skipped"
    readonly error?: string
    readonly warmUp?: WarmUp
    readonly compaction?: CompactionTiming
  }>
  readonly personaplex: Array<PersonaPlexResult>
}

const llmName = (llm: LlmCell) => `${llm.model}-${llm.quantization}`

/**
 * About 30 s of conversation (two of the dental-clinic script's exchanges, ~80 words) after a
 * previous prompt. Compaction `n` of an engine has another previous prompt, as each switch's is, so
 * it shares with the one before only what a real compaction would (the instructions, the persona).
 */
export const thirtySecondWindow = (n = 0): CompactionInput & { readonly wordBudget: number } => {
  const script = SCENARIOS[0]!
  const [, second, third] = script.windows
  const previous = script.windows[[0, 3, 4][n % 3]!]!
  return {
    basePersona: script.basePersona,
    previousPrompt: wrapWithSystemTags(`${script.basePersona} The user said: ${previous.userText}`),
    history: [
      {
        index: 1,
        userText: `${second!.userText} ${third!.userText}`,
        agentText: `${second!.agentText} ${third!.agentText}`,
      },
    ],
    wordBudget: 200,
  }
}

const words = (input: CompactionInput) =>
  input.history.reduce(
    (n, w) => n + `${w.userText ?? ""} ${w.agentText}`.split(/\s+/).filter(Boolean).length,
    0,
  )

const instructions = () => defaultInstructions(thirtySecondWindow().wordBudget, "json")

/**
 * Right after loading: the compactor's warm-up (`Compactor.fromLlamaEngine` runs the same), or with
 * `reusePrefix` off a 4-token generation (what the benchmark did before the engine reused prefixes).
 */
const warmUp = (engine: LlamaEngine, reusePrefix: boolean) =>
  reusePrefix
    ? engine.warmUp(instructions())
    : Effect.gen(function* () {
        const start = performance.now()
        const g = yield* engine.generate({
          system: "Warm up.",
          user: "Hello.",
          maxTokens: 4,
          temperature: 0.3,
          seed: 1,
        })
        return { ms: performance.now() - start, promptTokens: g.promptTokens.evaluated } satisfies WarmUp
      })

/**
 * A 1-token generation with every special token banned, as the timed ones are: the engine builds
 * that ban (a scan of the whole vocabulary, ~0.4 s for Qwen's 151k tokens on one core) at its first
 * use, which belongs to the benchmark's timing mode, not to a compaction.
 */
const prepareTimedGenerations = (engine: LlamaEngine) =>
  engine.generate({
    system: instructions(),
    user: "Hello.",
    maxTokens: 1,
    temperature: 0,
    untilMaxTokens: true,
  })

/** Compaction `n` of an engine (the compactor's own instructions and rendering), `tokens` generated. */
const timeCompaction = (engine: LlamaEngine, tokens: number, n: number) =>
  Effect.gen(function* () {
    const input = thirtySecondWindow(n)
    const system = instructions()
    const user = renderRequest(input, 3000)
    const start = performance.now()
    let firstAt: number | undefined
    const generation = yield* engine.generate({
      system,
      user,
      maxTokens: tokens,
      temperature: 0.3,
      seed: 1,
      untilMaxTokens: true,
      onProgress: () => {
        firstAt ??= performance.now()
      },
    })
    const ms = performance.now() - start
    const prefillMs = (firstAt ?? performance.now()) - start
    return {
      ms,
      prefillMs,
      promptTokens: generation.promptTokens.evaluated + generation.promptTokens.reused,
      promptTokensEvaluated: generation.promptTokens.evaluated,
      promptTokensReused: generation.promptTokens.reused,
      tokens: generation.tokens,
      tokensPerSecond: generation.tokens / Math.max(1e-3, (ms - prefillMs) / 1000),
    } satisfies CompactionTiming
  })

/** Speech-like input: a few harmonics under a slow envelope plus noise. */
const inputFrame = (t: number) =>
  Float32Array.from({ length: FRAME_SIZE }, (_, i) => {
    const time = (t * FRAME_SIZE + i) / SAMPLE_RATE
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * time)
    return 0.2 * envelope * Math.sin(2 * Math.PI * 180 * time) + 0.01 * Math.sin(12345.678 * time * time)
  })

const sleep = (ms: number) =>
  ms > 0 ? Effect.promise(() => new Promise((r) => setTimeout(r, ms))) : Effect.void

/**
 * The loop's frame (encode → LM step → agent decode), one every 80 ms until `until()` (at least
 * `minFrames`); a fresh system prompt first. Returns each frame's wall time.
 */
const pacedFrames = (minFrames: number, until: () => boolean) =>
  Effect.gen(function* () {
    const codec = yield* MimiCodec
    const lm = yield* LmGen
    const tokenizer = yield* TextTokenizer
    yield* lm.prompt({ textTokens: tokenizer.encode(wrapWithSystemTags(SCENARIOS[0]!.basePersona)) })
    yield* codec.reset
    const times: Array<number> = []
    const start = performance.now()
    for (let t = 0; t < minFrames || !until(); t++) {
      yield* sleep(start + t * FRAME_MS - performance.now())
      const t0 = performance.now()
      const tokens = yield* lm.step(yield* codec.encode(inputFrame(t)))
      if (tokens !== undefined) yield* codec.decode(tokens.slice(1, 1 + codec.numCodebooks))
      times.push(performance.now() - t0)
    }
    return times
  })

const late = (times: ReadonlyArray<number>) => times.filter((ms) => ms > FRAME_MS).length
const gib = (mib: number | undefined) =>
  mib === undefined ? undefined : Math.round((mib / 1024) * 100) / 100

const cell = (
  options: CompactorBenchOptions,
  pp: PersonaPlexCell,
  llm: LlmCell,
  gguf: string,
  memory: GpuMemorySampler,
  personaplexMiB: number | undefined,
) =>
  Effect.gen(function* () {
    memory.mark()
    const t0 = performance.now()
    const engine = yield* acquireLlamaEngine({
      modelPath: gguf,
      gpu: options.gpu,
      contextSize: 4096,
      ...(options.gpuLayers === undefined ? {} : { gpuLayers: options.gpuLayers }),
      ...(options.llmThreads === undefined ? {} : { maxThreads: options.llmThreads }),
      reusePrefix: options.reusePrefix ?? true,
    })
    const loadMs = performance.now() - t0
    const warm = yield* warmUp(engine, options.reusePrefix ?? true)
    yield* prepareTimedGenerations(engine)
    const withLlmMiB = memory.currentMiB()
    const compaction = yield* timeCompaction(engine, options.tokens, 0)
    // The same compaction with PersonaPlex's frames running beside it on the same GPU.
    let done = false
    const besideFiber = yield* Effect.forkChild(
      timeCompaction(engine, options.tokens, 1).pipe(Effect.ensuring(Effect.sync(() => (done = true)))),
    )
    const during = yield* pacedFrames(10, () => done)
    const compactionBesideFrames = yield* Fiber.join(besideFiber)
    let loop: CellResult["loop"]
    if (options.loopWindowSeconds > 0) {
      const compactor = yield* Compactor.fromLlamaEngine(engine, {
        maxTokens: options.tokens,
        wordBudget: thirtySecondWindow().wordBudget,
      })
      loop = yield* loopSwitch(pp, options.loopWindowSeconds, compactor)
    }
    const peakMiB = memory.peakMiB()
    options.log?.(
      `  ${llmName(llm)} on ${engine.device.gpus.join(", ") || "the CPU"}: warm-up ${warm.ms.toFixed(0)} ms, compaction ${compaction.ms.toFixed(0)} ms (${compaction.promptTokensEvaluated} prompt tokens evaluated, ${compaction.promptTokensReused} reused; beside frames ${compactionBesideFrames.ms.toFixed(0)} ms), frames p99 ${summarize(during).p99.toFixed(1)} ms, peak ${gib(peakMiB) ?? "–"} GiB`,
    )
    return {
      llm: llmName(llm),
      status: "ok",
      device: engine.device,
      loadMs,
      warmUp: warm,
      ...(personaplexMiB === undefined ? {} : { personaplexMiB }),
      ...(withLlmMiB === undefined ? {} : { withLlmMiB }),
      ...(peakMiB === undefined
        ? {}
        : { peakMiB, left16GiB: gib(16384 - peakMiB)!, left24GiB: gib(24576 - peakMiB)! }),
      compaction,
      compactionBesideFrames,
      framesDuringCompaction: summarize(during),
      lateFramesDuringCompaction: late(during),
      ...(loop === undefined ? {} : { loop }),
    } satisfies CellResult
  }).pipe(Effect.scoped)

/** Two windows of the loop (`pace: fast`, the run's config otherwise) with this compactor: one switch. */
const loopSwitch = (pp: PersonaPlexCell, windowSeconds: number, compactor: Compactor["Service"]) =>
  Effect.gen(function* () {
    const config = yield* loadRunConfig(pp.config)
    const resolved = resolveSettings(config, {
      windowSeconds,
      maxSeconds: 2 * windowSeconds + 0.5,
      pace: "fast",
    })
    if (!("settings" in resolved)) return yield* Effect.fail(new Error(resolved.problems.join("; ")))
    const options = yield* loopOptions(resolved.settings, {
      reportPath: path.join(os.tmpdir(), `loop-${process.pid}.json`),
      reportMeta: {},
    }) as Effect.Effect<LoopOptions, unknown> // stack's built types leave its requirements unknown
    const frames = Math.ceil((2 * windowSeconds + 0.5) * 12.5)
    // Windows of fixed length: the switch comes when the bench says, whatever the configured policy.
    const report = yield* runConversation({ ...options, switchPolicy: { mode: "fixed" } }).pipe(
      Effect.provide(
        Layer.mergeAll(
          AudioSource.fromFrames(Array.from({ length: frames }, (_, t) => inputFrame(t))),
          AudioSink.discard,
          Layer.succeed(Compactor, compactor),
        ),
      ),
    )
    return {
      pauseMs: report.switches.map((s) => s.pauseMs),
      compactionMs: report.switches.map((s) => s.compaction.durationMs),
      compactionWaitMs: report.switches.map((s) => s.compactionWaitMs),
      sources: report.switches.map((s) => s.compaction.source),
      frames: fromTiming(report.timings.frame),
      lateFrames: report.timings.lateFrames,
    }
  })

const fromTiming = (t: TimingSummary): Summary => ({
  p50: t.p50Ms,
  p99: t.p99Ms,
  max: t.maxMs,
  mean: t.meanMs,
  min: Number.NaN,
  n: t.count,
})

/** PersonaPlex from the run configuration, exactly as `personaplex run` builds it (stack's modelLayer). */
const personaplexLayer = (pp: PersonaPlexCell) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* loadRunConfig(pp.config)
      const resolved = resolveSettings(config, {})
      if (!("settings" in resolved)) return yield* Effect.fail(new Error(resolved.problems.join("; ")))
      const files = yield* resolveModelFiles(resolved.settings.models)
      return Layer.merge(modelLayer(resolved.settings, files), TextTokenizer.layer(files.tokenizer))
    }),
  )

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300)

export const runCompactorBench = (options: CompactorBenchOptions) =>
  Effect.gen(function* () {
    const log = options.log ?? (() => {})
    const started = performance.now()
    const overBudget = () => (performance.now() - started) / 1000 > options.budgetSeconds
    const memory = startGpuMemorySampler()
    yield* Effect.addFinalizer(() => Effect.sync(() => memory.stop()))
    fs.mkdirSync(options.workDir, { recursive: true })
    const report: CompactorBenchReport = {
      benchmark: "compactor-beside-personaplex",
      date: new Date().toISOString(),
      ...(options.command === undefined ? {} : { command: options.command }),
      host: defined({
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        gpu: gpuName(),
        node: process.version,
      }),
      gpu: options.gpu,
      reusePrefix: options.reusePrefix ?? true,
      tokens: options.tokens,
      transcriptWords: words(thirtySecondWindow()),
      llms: [],
      cpu: [],
      personaplex: [],
    }
    const save = () => fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`)
    const ggufs = new Map<string, string>()
    for (const llm of [...options.llms, ...options.cpuLlms]) {
      const name = llmName(llm)
      if (ggufs.has(name)) continue
      const file = path.join(options.workDir, `${name}${options.llmShape ? "-shaped" : ""}.gguf`)
      const t0 = performance.now()
      const written = writeInstructGguf(file, {
        model: llm.model,
        quantization: llm.quantization,
        ...(options.llmShape ? { shape: options.llmShape } : {}),
      })
      report.llms.push({
        name,
        bytes: written.bytes,
        parameters: written.parameters,
        writeMs: performance.now() - t0,
      })
      log(
        `${name}: ${(written.bytes / 2 ** 20).toFixed(1)} MiB, ${(written.parameters / 1e6).toFixed(1)} M parameters`,
      )
      ggufs.set(name, file)
    }
    save()
    const cpuDone = new Set<string>()
    const timeOnCpu = (llm: LlmCell) =>
      Effect.gen(function* () {
        const engine = yield* acquireLlamaEngine({
          modelPath: ggufs.get(llmName(llm))!,
          gpu: false,
          maxThreads: options.cpuThreads,
          contextSize: 4096,
          reusePrefix: options.reusePrefix ?? true,
        })
        const warm = yield* warmUp(engine, options.reusePrefix ?? true)
        yield* prepareTimedGenerations(engine)
        return { warmUp: warm, compaction: yield* timeCompaction(engine, options.tokens, 0) }
      }).pipe(Effect.scoped)

    for (const [i, pp] of options.personaplex.entries()) {
      const result: PersonaPlexResult = { ...pp, status: "ok", cells: [] }
      report.personaplex.push(result)
      if (overBudget()) {
        Object.assign(result, { status: "skipped", error: "time budget" })
        continue
      }
      log(`PersonaPlex ${pp.precision} ctx ${pp.context} (${pp.config})`)
      const exit = yield* Effect.exit(
        Effect.gen(function* () {
          memory.mark()
          const t0 = performance.now()
          const context = yield* Layer.build(personaplexLayer(pp))
          const personaplexMiB = memory.currentMiB()
          const alone = yield* pacedFrames(options.frames, () => true).pipe(Effect.provide(context))
          Object.assign(result, {
            openMs: performance.now() - t0,
            ...(personaplexMiB === undefined ? {} : { personaplexMiB }),
            frames: summarize(alone),
            lateFrames: late(alone),
          })
          log(
            `  open ${(performance.now() - t0).toFixed(0)} ms; frames alone p50 ${summarize(alone).p50.toFixed(1)} / p99 ${summarize(alone).p99.toFixed(1)} ms`,
          )
          for (const llm of options.llms) {
            if (overBudget()) {
              result.cells.push({ llm: llmName(llm), status: "skipped", error: "time budget" })
              continue
            }
            const done = yield* Effect.exit(
              cell(options, pp, llm, ggufs.get(llmName(llm))!, memory, personaplexMiB).pipe(
                Effect.provide(context),
              ),
            )
            result.cells.push(
              done._tag === "Success"
                ? done.value
                : { llm: llmName(llm), status: "failed", error: errorText(done.cause) },
            )
            save()
          }
          // The CPU comparison after the first configuration's GPU cells (PersonaPlex loaded, idle).
          if (i === 0)
            for (const llm of options.cpuLlms) {
              if (cpuDone.has(llmName(llm))) continue
              cpuDone.add(llmName(llm))
              if (overBudget()) {
                report.cpu.push({ llm: llmName(llm), status: "skipped", error: "time budget" })
                continue
              }
              const timed = yield* Effect.exit(timeOnCpu(llm))
              report.cpu.push(
                timed._tag === "Success"
                  ? { llm: llmName(llm), status: "ok", ...timed.value }
                  : { llm: llmName(llm), status: "failed", error: errorText(timed.cause) },
              )
              if (timed._tag === "Success")
                log(`  ${llmName(llm)} on the CPU: ${timed.value.compaction.ms.toFixed(0)} ms`)
              save()
            }
        }).pipe(Effect.scoped),
      )
      if (exit._tag === "Failure") Object.assign(result, { status: "failed", error: errorText(exit.cause) })
      save()
    }
    return report
  })

const gpuName = (): string | undefined => {
  try {
    return execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
      encoding: "utf8",
    }).trim()
  } catch {
    return undefined
  }
}

const f0 = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(0))
const f1 = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(1))

/** The results as Markdown: one row per PersonaPlex configuration × LLM, then the CPU timings. */
export const renderCompactorTable = (report: CompactorBenchReport): string => {
  const header = [
    "PersonaPlex",
    "LLM",
    "GPU GiB: PersonaPlex / + LLM / peak",
    "left of 16 / 24 GiB",
    "warm-up ms",
    "compaction ms (prefill) alone",
    "prompt tokens evaluated / reused",
    "beside frames",
    "frames p50/p99 ms alone",
    "during compaction (late)",
    "switch pause ms (of it compaction)",
  ]
  const rows: Array<Array<string>> = [header, header.map(() => "---")]
  for (const pp of report.personaplex) {
    const name = `${pp.precision} ctx ${pp.context}`
    if (pp.status !== "ok") {
      rows.push([name, "–", `${pp.status}: ${pp.error ?? ""}`])
      continue
    }
    for (const c of pp.cells) {
      if (c.status !== "ok") {
        rows.push([name, c.llm, `${c.status}: ${(c.error ?? "").replace(/\|/g, "/")}`])
        continue
      }
      rows.push([
        name,
        `${c.llm} (${c.device?.gpus.length ? `${c.device.backend}, ${c.device.gpuLayers} layers` : "CPU"})`,
        `${f1(gib(c.personaplexMiB))} / ${f1(gib(c.withLlmMiB))} / ${f1(gib(c.peakMiB))}`,
        `${f1(c.left16GiB)} / ${f1(c.left24GiB)}`,
        f0(c.warmUp?.ms),
        `${f0(c.compaction?.ms)} (${f0(c.compaction?.prefillMs)})`,
        `${c.compaction?.promptTokensEvaluated ?? "–"} / ${c.compaction?.promptTokensReused ?? "–"}`,
        f0(c.compactionBesideFrames?.ms),
        `${f1(pp.frames?.p50)} / ${f1(pp.frames?.p99)}`,
        `${f1(c.framesDuringCompaction?.p50)} / ${f1(c.framesDuringCompaction?.p99)} (${c.lateFramesDuringCompaction ?? "–"})`,
        c.loop
          ? c.loop.pauseMs.map((p, i) => `${f0(p)} (${f0(c.loop!.compactionWaitMs[i])})`).join(", ") || "–"
          : "–",
      ])
    }
  }
  const cpu = report.cpu.map((c) =>
    c.status === "ok"
      ? `| ${c.llm} | ${f0(c.warmUp?.ms)} | ${f0(c.compaction!.ms)} | ${f0(c.compaction!.prefillMs)} | ${c.compaction!.promptTokensEvaluated} / ${c.compaction!.promptTokensReused} | ${f1(c.compaction!.tokensPerSecond)} |`
      : `| ${c.llm} | ${c.status}: ${c.error ?? ""} | | | | |`,
  )
  return [
    rows.map((r) => `| ${r.join(" | ")} |`).join("\n"),
    "",
    `On the CPU (${report.host.cores} cores), the same compaction (${report.tokens} tokens):`,
    "",
    "| LLM | warm-up ms | compaction ms | prefill ms | prompt tokens evaluated / reused | tokens/s |",
    "| --- | --- | --- | --- | --- | --- |",
    ...cpu,
  ].join("\n")
}
