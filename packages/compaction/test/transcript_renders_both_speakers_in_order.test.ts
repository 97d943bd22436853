import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  type CompactionInput,
  CompactionInputError,
  modelFreeCompactor,
  renderTranscript,
} from "../src/index.ts"

describe("the compaction request's transcript", () => {
  it("lists both speakers, labelled, in the order of the window's turns", () => {
    const text = renderTranscript(
      [
        {
          index: 0,
          agentText: "Hello, how can I help? Thursday at three works.",
          userText: "I need an appointment. Thursday please.",
          turns: [
            { speaker: "agent", text: "Hello, how can I help?" },
            { speaker: "user", text: "I need an appointment." },
            { speaker: "agent", text: " " },
            { speaker: "user", text: "Thursday please." },
            { speaker: "agent", text: "Thursday at three works." },
          ],
        },
      ],
      500,
    )
    expect(text).toBe(
      [
        "[window 0]",
        "Assistant: Hello, how can I help?",
        "User: I need an appointment.",
        "User: Thursday please.",
        "Assistant: Thursday at three works.",
      ].join("\n"),
    )
  })

  it("without turns, is the user's text then the agent's, as before", () => {
    expect(renderTranscript([{ index: 2, agentText: "Sure.", userText: "Hi." }], 500)).toBe(
      "[window 2]\nUser: Hi.\nAssistant: Sure.",
    )
    expect(renderTranscript([{ index: 2, agentText: "Sure." }], 500)).toBe("[window 2]\nAssistant: Sure.")
  })

  it("refuses a turn with an unknown speaker, naming the window", async () => {
    const input = {
      basePersona: "You are Maya.",
      previousPrompt: "",
      history: [{ index: 0, agentText: "", turns: [{ speaker: "narrator", text: "x" }] }],
    } as unknown as CompactionInput
    const error = await Effect.runPromise(Effect.flip(modelFreeCompactor.compact(input)))
    expect(error).toBeInstanceOf(CompactionInputError)
    expect(error.message).toContain("history[0].turns")
  })
})
