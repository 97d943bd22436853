// node-llama-cpp for real, on a random-weight GGUF written by the test (src/testing/tinyLlama.ts).
// Its text is noise, so these tests pin down structure: token limits, abort, release, fallbacks.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Deferred, Effect, Exit, Fiber, Layer, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  acquireLlamaEngine,
  type CompactionInput,
  type CompactionResult,
  Compactor,
  type LlamaEngine,
  ModelLoadError,
  promptWords,
  writeTinyLlamaGguf,
} from "../src/index.ts"

let dir = ""
let modelPath = ""
// One CPU thread: llama.cpp's default thread count is hundreds of times slower on a 2-core CI box.
const engineOptions = () => ({ modelPath, gpu: false as const, maxThreads: 1, contextSize: 1024 })
const shortInstructions = () => "Write the system prompt as JSON."

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "compaction-gguf-"))
  modelPath = writeTinyLlamaGguf(path.join(dir, "tiny.gguf"), { seed: 7 }).path
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const withEngine = <A, E>(use: (engine: LlamaEngine) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(acquireLlamaEngine(engineOptions()), use)))

const basePersona = "You are Maya."
const input: CompactionInput = {
  basePersona,
  previousPrompt: `<system> ${basePersona} Information: The user said: my code is 5521. <system>`,
  history: [{ index: 0, userText: "I am Dan.", agentText: "Hi Dan, see you at 3 pm." }],
  wordBudget: 30,
}

const compactWith = (
  options: Parameters<typeof Compactor.llamaCpp>[0],
  inputs: ReadonlyArray<CompactionInput>,
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const compactor = yield* Compactor
      const results: Array<CompactionResult> = []
      for (const i of inputs) results.push(yield* compactor.compact(i))
      return results
    }).pipe(Effect.provide(Compactor.llamaCpp(options))),
  )

describe("node-llama-cpp on a tiny random GGUF", () => {
  it("loads the model, tokenizes, and releases llama, model and context when the scope closes", async () => {
    const engine = await withEngine((e) =>
      Effect.sync(() => {
        expect(e.model.disposed).toBe(false)
        expect(e.contextSize).toBe(1024)
        expect(e.countTokens("the user said hello")).toBeGreaterThan(0)
        return e
      }),
    )
    expect(engine.context.disposed).toBe(true)
    expect(engine.model.disposed).toBe(true)
    expect(engine.llama.disposed).toBe(true)
  })

  it("generation stops at maxTokens", async () => {
    const generations = await withEngine((engine) =>
      Effect.forEach([1, 2, 3], (seed) =>
        engine.generate({
          system: "Summarize.",
          user: "The user said hello.",
          maxTokens: 16,
          temperature: 1,
          seed,
        }),
      ),
    )
    for (const g of generations) {
      expect(g.tokens).toBeLessThanOrEqual(16)
      expect(["maxTokens", "eogToken"]).toContain(g.stopReason)
    }
    expect(generations.some((g) => g.stopReason === "maxTokens" && g.tokens > 0)).toBe(true)
  })

  it("interruption aborts a running generation within a bounded time, and the engine stays usable", async () => {
    const { stoppedMs, tokensAtStop, after } = await withEngine((engine) =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        let tokens = 0
        const fiber = yield* Effect.forkChild(
          engine.generate({
            system: "Summarize.",
            user: "Go on.",
            maxTokens: 900,
            temperature: 1,
            seed: 11,
            onProgress: (n) => {
              tokens = n
              if (n >= 4) Deferred.doneUnsafe(started, Effect.void)
            },
          }),
        )
        yield* Deferred.await(started)
        const t0 = Date.now()
        const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
        const stoppedMs = Date.now() - t0
        expect(Exit.hasInterrupts(exit)).toBe(true)
        const tokensAtStop = tokens
        const after = yield* engine.generate({
          system: "Summarize.",
          user: "Again.",
          maxTokens: 8,
          temperature: 1,
          seed: 1,
        })
        return { stoppedMs, tokensAtStop, after }
      }),
    )
    expect(stoppedMs).toBeLessThan(2000)
    expect(tokensAtStop).toBeLessThan(900)
    expect(after.tokens).toBeLessThanOrEqual(8)
  })

  it("Compactor.llamaCpp (JSON grammar) gives a wrapped prompt within budget, or a clean fallback", async () => {
    const results = await compactWith(
      { ...engineOptions(), maxTokens: 96, seed: 3, instructions: shortInstructions },
      [input, { ...input, history: [{ index: 1, agentText: "Ok." }] }],
    )
    for (const result of results) {
      expect(result.prompt.startsWith(`<system> ${basePersona}`)).toBe(true)
      expect(result.prompt.endsWith(" <system>")).toBe(true)
      expect(promptWords(result.prompt)).toBeLessThanOrEqual(30)
      if (result.source === "fallback") expect(result.reason).toMatch(/JSON|output unusable/)
      else expect(result.backend).toBe("llama-cpp")
    }
  })

  it("JSON cut off by maxTokens is reported as a fallback, with the previous prompt's facts kept", async () => {
    const [result] = await compactWith(
      { ...engineOptions(), maxTokens: 5, seed: 1, instructions: shortInstructions },
      [input],
    )
    expect(result!.source).toBe("fallback")
    expect(result!.reason).toContain("JSON does not parse")
    expect(result!.prompt).toContain("5521")
  })

  it("text mode puts the persona at the head of whatever the model wrote", async () => {
    const [result] = await compactWith(
      { ...engineOptions(), output: "text", maxTokens: 24, seed: 2, instructions: () => "Write the prompt." },
      [input],
    )
    expect(result!.prompt.startsWith(`<system> ${basePersona}`)).toBe(true)
    expect(promptWords(result!.prompt)).toBeLessThanOrEqual(30)
  })

  it("a deadline shorter than the generation interrupts it and falls back; the next compaction still runs", async () => {
    const started = Date.now()
    const results = await compactWith(
      {
        ...engineOptions(),
        output: "text",
        maxTokens: 700,
        seed: 11,
        deadline: "150 millis",
        instructions: () => "Go on.",
      },
      [input, input],
    )
    for (const result of results) {
      if (result.source === "fallback") expect(result.reason).toContain("within 150 ms")
    }
    expect(results[0]!.source).toBe("fallback")
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("a request too long for the context falls back instead of failing the loop", async () => {
    const long = { ...input, basePersona: "word ".repeat(2000), wordBudget: 3000 }
    const [result] = await compactWith({ ...engineOptions(), instructions: shortInstructions }, [long])
    expect(result!.source).toBe("fallback")
    expect(result!.reason).toContain("does not fit")
  })

  it("a missing model file fails the layer with ModelLoadError naming the path", async () => {
    const missing = path.join(dir, "nope.gguf")
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.scoped(Layer.build(Compactor.llamaCpp({ modelPath: missing, gpu: false, maxThreads: 1 }))),
      ),
    )
    expect(error).toBeInstanceOf(ModelLoadError)
    expect(error.message).toBe(`cannot load GGUF model ${missing}: file not found`)
  })
})
