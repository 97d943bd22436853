import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  type CompactionInput,
  CompactionInputError,
  countWords,
  ModelOutputError,
  modelFreeCompactor,
  promptFromJson,
  promptFromOutput,
  promptFromText,
  promptWords,
  type ResolvedInput,
  salvageTruncatedJson,
  shapePrompt,
  truncateToWords,
  unwrapSystemTags,
  withDeadline,
  wrapWithSystemTags,
} from "../src/index.ts"

const persona = "You work for Brightline Dental which is a dental clinic and your name is Maya."
const input = (wordBudget = 200): ResolvedInput => ({
  basePersona: persona,
  history: [],
  previousPrompt: "",
  wordBudget,
})

describe("system tags (upstream-spec §5.4)", () => {
  it("wraps with the literal <system> on both sides", () => {
    expect(wrapWithSystemTags("  You are Maya.  ")).toBe("<system> You are Maya. <system>")
  })
  it("leaves an already wrapped prompt unchanged", () => {
    expect(wrapWithSystemTags("<system> You are Maya. <system>")).toBe("<system> You are Maya. <system>")
  })
  it("unwraps, dropping stray closing tags too", () => {
    expect(unwrapSystemTags("<system> You are\n Maya. </system>")).toBe("You are Maya.")
  })
})

describe("word budget", () => {
  it("keeps text within the budget unchanged", () => {
    expect(truncateToWords("one two three", 3)).toBe("one two three")
  })
  it("cuts at the last sentence end in the kept second half", () => {
    expect(truncateToWords("A b c d. E f g h", 6)).toBe("A b c d.")
  })
  it("cuts hard when no sentence ends late enough", () => {
    expect(truncateToWords("a b c d e f g h", 5)).toBe("a b c d e")
  })
})

describe("prompt shape", () => {
  it("puts the persona first and the facts under Information:", () => {
    expect(shapePrompt(persona, "The user is Daniel.", 200)).toBe(
      `<system> ${persona} Information: The user is Daniel. <system>`,
    )
  })
  it("appends to a persona that already has an Information: section", () => {
    const p = "You work for X. Information: open 8 to 6."
    expect(shapePrompt(p, "The user is Daniel.", 200)).toBe(`<system> ${p} The user is Daniel. <system>`)
  })
  it("truncates the information, not the persona, to meet the budget", () => {
    const prompt = shapePrompt(persona, "word ".repeat(300), 40)
    expect(countWords(unwrapSystemTags(prompt))).toBeLessThanOrEqual(40)
    expect(unwrapSystemTags(prompt).startsWith(persona)).toBe(true)
  })
  it("truncates even the persona when it alone exceeds the budget", () => {
    expect(countWords(unwrapSystemTags(shapePrompt(persona, "x", 5)))).toBe(5)
  })
})

describe("model answers", () => {
  it("strips <think>, labels and tags from a text answer and keeps the persona at the head", () => {
    const answer = `<think>they want a prompt</think>System prompt: <system> ${persona} Information: The user is Daniel. <system>`
    expect(promptFromText("test", answer, input())).toBe(
      `<system> ${persona} Information: The user is Daniel. <system>`,
    )
  })
  it("adds the persona when a text answer left it out", () => {
    expect(promptFromText("test", "The user is Daniel.", input())).toBe(
      `<system> ${persona} Information: The user is Daniel. <system>`,
    )
  })
  it("drops a paraphrase of the persona that a model wrote instead of copying it", () => {
    const answer =
      "You are Maya and you work for the Brightline Dental clinic. Information: The user is Daniel. Maya booked Thursday."
    expect(promptFromText("test", answer, input())).toBe(
      `<system> ${persona} Information: The user is Daniel. Maya booked Thursday. <system>`,
    )
  })
  it("an empty text answer is a ModelOutputError", () => {
    expect(() => promptFromText("test", "  <think>hmm</think> ", input())).toThrow(ModelOutputError)
  })
  it("renders a JSON answer as facts, commitments and open topics", () => {
    const answer = JSON.stringify({
      facts: ["The user is Daniel"],
      commitments: ["Call back Thursday"],
      openTopics: ["Installments"],
    })
    expect(promptFromJson("test", answer, input())).toBe(
      `<system> ${persona} Information: The user is Daniel. You promised: Call back Thursday. Still open: Installments. <system>`,
    )
  })
  it("JSON cut short by maxTokens is a ModelOutputError that names the problem", () => {
    expect(() => promptFromJson("test", '{"facts": ["The user is Dan', input())).toThrow(
      /JSON does not parse/,
    )
  })
  it("JSON cut short after complete items keeps those items and says so", () => {
    const cut = '{"facts": ["The user is Daniel", "Patient number 48213", "Toothache in the lower'
    expect(salvageTruncatedJson(cut)).toEqual({ facts: ["The user is Daniel", "Patient number 48213"] })
    const written = promptFromOutput("test", "json", cut, input())
    expect(written.prompt).toBe(
      `<system> ${persona} Information: The user is Daniel. Patient number 48213. <system>`,
    )
    expect(written.note).toContain("kept its 2 complete items")
  })
  it("salvage handles escaped quotes and closes nested brackets", () => {
    expect(salvageTruncatedJson('{"facts": ["say \\"hi\\""], "commitments": ["x')).toEqual({
      facts: ['say "hi"'],
      commitments: [],
    })
  })
  it("JSON of the wrong shape is a ModelOutputError naming the field", () => {
    expect(() =>
      promptFromJson("test", '{"facts": "x", "commitments": [], "openTopics": []}', input()),
    ).toThrow(/"facts"/)
  })
})

describe("token budget", () => {
  const countTokens = (text: string) => Math.ceil(text.length / 4)
  const long: CompactionInput = {
    basePersona: persona,
    previousPrompt: "",
    history: [
      {
        index: 0,
        userText: Array.from({ length: 20 }, (_, i) => `Item ${i} costs ${10 + i} dollars.`).join(" "),
        agentText: "Noted.",
      },
    ],
  }

  it("cuts the prompt so that its wrapped form fits the token budget", async () => {
    const uncut = await Effect.runPromise(modelFreeCompactor.compact(long))
    expect(countTokens(uncut.prompt)).toBeGreaterThan(100)
    const result = await Effect.runPromise(
      modelFreeCompactor.compact({ ...long, tokenBudget: 60, countTokens }),
    )
    expect(countTokens(result.prompt)).toBeLessThanOrEqual(60)
    expect(countTokens(result.prompt)).toBeGreaterThan(40)
    expect(result.prompt.startsWith(`<system> ${persona}`)).toBe(true)
    expect(result.prompt.endsWith(" <system>")).toBe(true)
  })

  it("a token budget without a counter is a typed input error", async () => {
    const error = await Effect.runPromise(
      Effect.flip(modelFreeCompactor.compact({ ...long, tokenBudget: 60 })),
    )
    expect(error).toBeInstanceOf(CompactionInputError)
    expect(error.message).toContain("countTokens")
  })

  it("the deadline guard applies the token budget to the fallback too, and survives a counter that throws", async () => {
    const failing = {
      compact: () => Effect.fail(new ModelOutputError({ backend: "x", reason: "bad", output: "" })),
    }
    const guarded = withDeadline("1 second")(failing)
    const result = await Effect.runPromise(guarded.compact({ ...long, tokenBudget: 40, countTokens }))
    expect(result.source).toBe("fallback")
    expect(countTokens(result.prompt)).toBeLessThanOrEqual(40)
    const throwing = () => {
      throw new Error("tokenizer not loaded")
    }
    const survived = await Effect.runPromise(
      guarded.compact({ ...long, tokenBudget: 40, countTokens: throwing }),
    )
    expect(survived.source).toBe("fallback")
    expect(promptWords(survived.prompt)).toBeLessThanOrEqual(200)
  })
})
