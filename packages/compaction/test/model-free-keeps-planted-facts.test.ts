import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  type CompactionInput,
  CompactionInputError,
  Compactor,
  extractivePrompt,
  formatHarnessTable,
  modelFreeCompactor,
  promptWords,
  runHarness,
  SCENARIOS,
  scenarioWindows,
} from "../src/index.ts"

const compactWithLayer = (input: CompactionInput) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const compactor = yield* Compactor
      return yield* compactor.compact(input)
    }).pipe(Effect.provide(Compactor.modelFree)),
  )

describe("model-free compactor on the harness", () => {
  it("keeps every planted fact through 12 rounds seeing one window at a time, within 200 words", async () => {
    const report = await Effect.runPromise(
      runHarness(modelFreeCompactor, "model-free", { rounds: 12, historyWindows: 1 }),
    )
    console.log(formatHarnessTable(report))
    expect(report.planted).toBe(21)
    expect(report.survived).toBe(report.planted)
    for (const scenario of report.scenarios) {
      expect(scenario.fallbacks).toBe(0)
      for (const round of scenario.perRound) expect(round.words).toBeLessThanOrEqual(200)
      expect(scenario.finalPrompt.startsWith("<system> ")).toBe(true)
      expect(scenario.finalPrompt.endsWith(" <system>")).toBe(true)
    }
  })

  it("under a tight 80-word budget stays within it and keeps most facts, dropping small talk first", async () => {
    const report = await Effect.runPromise(
      runHarness(modelFreeCompactor, "model-free", { rounds: 12, wordBudget: 80 }),
    )
    for (const scenario of report.scenarios)
      for (const round of scenario.perRound) expect(round.words).toBeLessThanOrEqual(80)
    expect(report.survived / report.planted).toBeGreaterThan(0.6)
    for (const scenario of report.scenarios)
      expect(scenario.finalPrompt).not.toMatch(/long week|park and reading|patient\. /)
  })

  it("is deterministic and keeps the persona verbatim at the head", async () => {
    const scenario = SCENARIOS[0]!
    const input = {
      basePersona: scenario.basePersona,
      history: scenarioWindows(scenario, 5),
      previousPrompt: "",
    }
    const first = await compactWithLayer(input)
    const second = await compactWithLayer(input)
    expect(first.prompt).toBe(second.prompt)
    expect(first.prompt).toBe(extractivePrompt(input))
    expect(first.prompt.startsWith(`<system> ${scenario.basePersona} `)).toBe(true)
    expect(first.source).toBe("model")
    expect(first.backend).toBe("model-free")
    expect(first.words).toBe(promptWords(first.prompt))
  })

  it("carries facts from the previous prompt when the window has none", async () => {
    const basePersona = "You are a helpful assistant."
    const previousPrompt = `<system> ${basePersona} Information: The user said: My locker code is 5521. <system>`
    const result = await Effect.runPromise(
      modelFreeCompactor.compact({
        basePersona,
        previousPrompt,
        history: [{ index: 3, agentText: "Sure, sounds good." }],
      }),
    )
    expect(result.prompt).toContain("5521")
  })

  it("rejects a non-positive word budget with a typed error naming the field", async () => {
    const error = await Effect.runPromise(
      Effect.flip(
        modelFreeCompactor.compact({ basePersona: "x", history: [], previousPrompt: "", wordBudget: 0 }),
      ),
    )
    expect(error).toBeInstanceOf(CompactionInputError)
    expect(error.message).toContain("wordBudget")
  })
})
