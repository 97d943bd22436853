// What the secondary LLM is asked to do, and how its answer becomes a PersonaPlex prompt.
// Follows the integration guide: keep the base persona, fold in relevant context, commitments and
// open topics, stay under the word budget, output only the prompt. PersonaPlex was trained on
// prompts shaped "You work for X ... Information: ...", so the answer is shaped that way.
import { ModelOutputError } from "./errors.ts"
import type { ResolvedInput } from "./makeCompactor.ts"
import { informationOf, shapePrompt, stripInformationLabel } from "./promptShape.ts"
import { unwrapSystemTags } from "./systemTags.ts"
import type { WindowTranscript } from "./types.ts"
import { countWords, words } from "./wordBudget.ts"

/** "text": the model writes the whole prompt; "json": it fills {@link COMPACTION_JSON_SCHEMA}. */
export type OutputMode = "text" | "json"

export const defaultInstructions = (wordBudget: number, mode: OutputMode): string =>
  [
    "You maintain the system prompt of a real-time voice assistant. Between conversation windows the",
    "assistant is restarted and remembers only what its system prompt says.",
    "Write the assistant's next system prompt:",
    "- Keep the base persona exactly as given.",
    "- Fold in what the assistant must remember to continue naturally: names, numbers, dates, what the user",
    "  wants, what the assistant promised (commitments), and topics still open. Keep facts from the previous",
    "  prompt that still matter; drop small talk.",
    '- Address the assistant as "you" and the other speaker as "the user". Short factual sentences.',
    mode === "text"
      ? `- Shape it as: <base persona> Information: <facts>. At most ${wordBudget} words in total.\n- Output only the prompt: no preamble, no quotes, no tags.`
      : `- Answer with JSON: "facts", "commitments" and "openTopics", each a list of short sentences; together at most ${wordBudget} words.`,
  ].join("\n")

export const COMPACTION_JSON_SCHEMA = {
  type: "object",
  properties: {
    facts: { type: "array", items: { type: "string", maxLength: 200 }, maxItems: 10 },
    commitments: { type: "array", items: { type: "string", maxLength: 200 }, maxItems: 5 },
    openTopics: { type: "array", items: { type: "string", maxLength: 200 }, maxItems: 5 },
  },
  required: ["facts", "commitments", "openTopics"],
} as const

const LABEL = { user: "User", agent: "Assistant" } as const

const windowText = (w: WindowTranscript): string => {
  const lines: Array<string> = []
  if (w.turns !== undefined) {
    for (const turn of w.turns)
      if (turn.text.trim().length > 0) lines.push(`${LABEL[turn.speaker]}: ${turn.text.trim()}`)
    return lines.length === 0 ? "(silence)" : lines.join("\n")
  }
  if (w.userText && w.userText.trim().length > 0) lines.push(`User: ${w.userText.trim()}`)
  if (w.agentText.trim().length > 0) lines.push(`Assistant: ${w.agentText.trim()}`)
  return lines.length === 0 ? "(silence)" : lines.join("\n")
}

/**
 * The transcript part of the request, newest windows kept whole and older ones dropped (the
 * previous prompt already carries them) so that it fits in `maxWords`; a window that does not fit
 * whole keeps its last words.
 */
export const renderTranscript = (history: ReadonlyArray<WindowTranscript>, maxWords: number): string => {
  const parts: Array<string> = []
  let used = 0
  for (let i = history.length - 1; i >= 0 && used < maxWords; i--) {
    const w = history[i]!
    const text = windowText(w)
    const n = countWords(text) + 2
    if (used + n <= maxWords) {
      parts.unshift(`[window ${w.index}]\n${text}`)
      used += n
    } else {
      const tail = words(text).slice(-(maxWords - used - 3))
      if (tail.length > 0) parts.unshift(`[window ${w.index}, end]\n... ${tail.join(" ")}`)
      used = maxWords
    }
  }
  return parts.length === 0 ? "(nothing was said)" : parts.join("\n\n")
}

export const renderRequest = (input: ResolvedInput, maxTranscriptWords: number): string => {
  const previous = informationOf(input.previousPrompt, input.basePersona)
  return [
    `Base persona:\n${unwrapSystemTags(input.basePersona) || "(none)"}`,
    `Previous system prompt information:\n${previous || "(none)"}`,
    `Conversation since then:\n${renderTranscript(input.history, maxTranscriptWords)}`,
    `Write the next system prompt (at most ${input.wordBudget} words).`,
  ].join("\n\n")
}

// Reasoning models wrap their thoughts in <think>; chat models like to add labels, fences or quotes.
const cleanText = (text: string): string => {
  let out = text.replaceAll(/<think>[\s\S]*?(<\/think>|$)/g, " ").trim()
  out = out.replace(/^```[a-z]*\s*/i, "").replace(/\s*```$/, "")
  out = out.replace(/^(?:new |next )?system prompt\s*:\s*/i, "")
  out = unwrapSystemTags(out)
  if (/^["'“].*["'”]$/s.test(out)) out = out.slice(1, -1).trim()
  return out
}

const wordSet = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [])

/**
 * Leading sentences that only restate the persona (a model that paraphrased instead of copying it):
 * dropped, since the persona itself is put back verbatim.
 */
const dropRestatedPersona = (text: string, basePersona: string): string => {
  const persona = wordSet(unwrapSystemTags(basePersona))
  if (persona.size === 0) return text
  const sentences = text.split(/(?<=[.!?])\s+/)
  let start = 0
  while (start < sentences.length) {
    const words = [...wordSet(sentences[start]!)]
    if (words.length === 0 || words.filter((w) => persona.has(w)).length / words.length < 0.7) break
    start++
  }
  return sentences.slice(start).join(" ")
}

/** A free-text answer as a prompt: the base persona kept verbatim at the head, the rest as information. */
export const promptFromText = (backend: string, output: string, input: ResolvedInput): string => {
  const cleaned = cleanText(output)
  if (cleaned.length === 0) throw new ModelOutputError({ backend, reason: "empty answer", output })
  const information = stripInformationLabel(
    dropRestatedPersona(informationOf(cleaned, input.basePersona), input.basePersona),
  )
  return shapePrompt(input.basePersona, information, input.wordBudget)
}

const sentence = (s: string) => {
  const t = s.replaceAll(/\s+/g, " ").trim()
  return t.length === 0 ? "" : /[.!?]$/.test(t) ? t : `${t}.`
}

const stringList = (value: unknown, field: string, backend: string, output: string): Array<string> => {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new ModelOutputError({ backend, reason: `JSON field "${field}" is not a list of strings`, output })
  return (value as Array<string>).map(sentence).filter((s) => s.length > 0)
}

/**
 * The longest prefix of a JSON text cut short (by `maxTokens`) that ends after a complete value,
 * closed with the brackets still open; undefined when no such prefix parses.
 */
export const salvageTruncatedJson = (text: string): unknown => {
  const open: Array<"{" | "["> = []
  let inString = false
  let escaped = false
  let safeEnd = -1
  let safeOpen: Array<"{" | "["> = []
  const markSafe = (end: number) => {
    safeEnd = end
    safeOpen = [...open]
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (escaped) escaped = false
      else if (c === "\\") escaped = true
      else if (c === '"') {
        inString = false
        // A complete string item of a list; a string in an object may be a key, so it is not a safe end.
        if (open.at(-1) === "[") markSafe(i + 1)
      }
    } else if (c === '"') inString = true
    else if (c === "{" || c === "[") {
      open.push(c)
      if (c === "[") markSafe(i + 1)
    } else if (c === "}" || c === "]") {
      open.pop()
      markSafe(i + 1)
      if (open.length === 0) break
    }
  }
  if (safeEnd < 0) return undefined
  const closers = safeOpen
    .reverse()
    .map((b) => (b === "{" ? "}" : "]"))
    .join("")
  try {
    return JSON.parse(text.slice(0, safeEnd) + closers)
  } catch {
    return undefined
  }
}

interface JsonAnswer {
  readonly facts: ReadonlyArray<string>
  readonly commitments: ReadonlyArray<string>
  readonly openTopics: ReadonlyArray<string>
}

const FIELDS = ["facts", "commitments", "openTopics"] as const

/**
 * A JSON answer ({@link COMPACTION_JSON_SCHEMA}) read into lists. An answer cut short keeps its
 * complete items (`truncated`); one with no complete item, or of the wrong shape, is a {@link ModelOutputError}.
 */
export const parseJsonAnswer = (
  backend: string,
  output: string,
): { readonly answer: JsonAnswer; readonly truncated: boolean } => {
  const text = cleanText(output)
  let parsed: unknown
  let truncated = false
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    parsed = salvageTruncatedJson(text)
    truncated = true
    if (parsed === undefined)
      throw new ModelOutputError({ backend, reason: `JSON does not parse (${(e as Error).message})`, output })
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ModelOutputError({ backend, reason: "JSON answer is not an object", output })
  const record = parsed as Record<string, unknown>
  const lists = FIELDS.map((field) =>
    truncated && record[field] === undefined ? [] : stringList(record[field], field, backend, output),
  )
  const answer = { facts: lists[0]!, commitments: lists[1]!, openTopics: lists[2]! }
  if (truncated && lists.every((l) => l.length === 0))
    throw new ModelOutputError({
      backend,
      reason: "JSON does not parse (cut short before any complete item)",
      output,
    })
  return { answer, truncated }
}

const informationOfAnswer = (answer: JsonAnswer): string =>
  [
    ...answer.facts,
    ...(answer.commitments.length > 0 ? [`You promised: ${answer.commitments.join(" ")}`] : []),
    ...(answer.openTopics.length > 0 ? [`Still open: ${answer.openTopics.join(" ")}`] : []),
  ].join(" ")

/** A JSON answer ({@link COMPACTION_JSON_SCHEMA}) as a prompt; throws {@link ModelOutputError} when nothing is usable. */
export const promptFromJson = (backend: string, output: string, input: ResolvedInput): string =>
  shapePrompt(
    input.basePersona,
    informationOfAnswer(parseJsonAnswer(backend, output).answer),
    input.wordBudget,
  )

/** What a model layer made of an answer: the prompt, and a note when only part of the answer was usable. */
export interface WrittenPrompt {
  readonly prompt: string
  readonly note?: string
}

export const promptFromOutput = (
  backend: string,
  mode: OutputMode,
  output: string,
  input: ResolvedInput,
): WrittenPrompt => {
  if (mode === "text") return { prompt: promptFromText(backend, output, input) }
  const { answer, truncated } = parseJsonAnswer(backend, output)
  const prompt = shapePrompt(input.basePersona, informationOfAnswer(answer), input.wordBudget)
  if (!truncated) return { prompt }
  const kept = answer.facts.length + answer.commitments.length + answer.openTopics.length
  return { prompt, note: `the JSON answer was cut short (maxTokens); kept its ${kept} complete items` }
}
