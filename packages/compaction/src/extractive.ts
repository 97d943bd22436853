// The model-free compactor: keep the sentences most likely to matter later (names, numbers, dates,
// commitments, what the user said about themselves, open questions), newest first when the word
// budget is tight, grouped by who said them. Deterministic: the same input gives the same prompt.
import { INFORMATION_LABEL, informationOf, shapePrompt } from "./promptShape.ts"
import { unwrapSystemTags } from "./systemTags.ts"
import { type CompactionInput, DEFAULT_WORD_BUDGET } from "./types.ts"
import { countWords, words } from "./wordBudget.ts"

export type Speaker = "earlier" | "user" | "agent" | "question"

export interface Clause {
  readonly text: string
  readonly speaker: Speaker
  /** -1 for clauses carried over from the previous prompt. */
  readonly window: number
  readonly order: number
  readonly score: number
}

const GROUPS: ReadonlyArray<readonly [Speaker, string]> = [
  ["earlier", "Earlier:"],
  ["user", "The user said:"],
  ["agent", "You said:"],
  ["question", "Open questions:"],
]

const MAX_CLAUSE_WORDS = 28
const FILLER = /\b(?:u+m+|u+h+|e+r+m*|h+m+|m+h*m+|uh-huh)\b[,.]?/gi
const NUMBER =
  /\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|thousand|million|noon|midnight)\b/i
const CONTACT = /[\w.+-]+@[\w-]+\.[\w.]+|https?:\/\/\S+|\bwww\.\S+/i
const WHEN =
  /\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|yesterday|next (?:week|month|year|time)|january|february|march|april|may|june|july|august|september|october|november|december|morning|afternoon|evening)\b/i
const COMMITMENT =
  /\b(?:i'll|i will|we'll|we will|i'm going to|we're going to|i am going to|i promise|promised|let me|remind|follow up|get back to|i can (?:send|book|call|email|schedule|arrange|check))\b/i
const ABOUT_USER =
  /\b(?:my name is|my name's|call me|i'm called|i live|i work|i study|my \w+(?: \w+)? (?:is|are|was|were)|i (?:really )?(?:like|love|prefer|hate|need|want|have|had|am allergic|'m allergic))\b/i
const QUESTION_START =
  /^(?:what|when|where|who|why|how|which|can|could|would|will|do|does|did|is|are|should|may)\b/i
const NOT_A_NAME = new Set([
  "I",
  "I'm",
  "I'll",
  "I've",
  "I'd",
  "OK",
  "Okay",
  "Oh",
  "Yes",
  "No",
  "Hi",
  "Hello",
])

const hasName = (text: string) =>
  words(text)
    .slice(1)
    .some((w) => /^[A-Z][a-z'’-]+/.test(w) && !NOT_A_NAME.has(w.replace(/[^\w']/g, "")))

/** How much a clause is worth keeping; 0 means small talk. */
export const scoreClause = (text: string): number => {
  let score = 0
  if (NUMBER.test(text) || CONTACT.test(text)) score += 3
  if (COMMITMENT.test(text)) score += 3
  if (ABOUT_USER.test(text)) score += 2
  if (hasName(text)) score += 2
  if (WHEN.test(text)) score += 1
  if (isQuestion(text)) score += 1
  return score
}

const isQuestion = (text: string) => /\?\s*$/.test(text) || QUESTION_START.test(text)

const clean = (text: string) =>
  text
    .replaceAll(FILLER, " ")
    .replaceAll(/\s+([,.!?;:])/g, "$1")
    .replaceAll(/\s+/g, " ")
    .replace(/^[\s,;:.-]+/, "")
    .trim()

/** Sentences, with long unpunctuated runs (PersonaPlex text often has none) cut into clauses. */
export const splitClauses = (text: string): Array<string> =>
  clean(text)
    .split(/(?<=[.!?;])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .flatMap((sentence) => {
      const ws = words(sentence)
      if (ws.length <= MAX_CLAUSE_WORDS) return [sentence]
      const chunks: Array<string> = []
      for (let i = 0; i < ws.length; i += MAX_CLAUSE_WORDS)
        chunks.push(ws.slice(i, i + MAX_CLAUSE_WORDS).join(" "))
      return chunks
    })

const withoutEndPunctuation = (text: string) => text.replace(/[\s.;:,!]+$/, "")

const key = (text: string) =>
  text
    .toLowerCase()
    .replaceAll(/[^\p{L}\p{N}@]+/gu, " ")
    .trim()

const clausesOfWindow = (
  text: string,
  speaker: "user" | "agent",
  window: number,
  start: number,
): Array<Clause> =>
  splitClauses(text).map((raw, i) => {
    const question = speaker === "user" && isQuestion(raw)
    // The agent's own questions ("Does that work?") are not open topics.
    const score = scoreClause(raw) - (speaker === "agent" && isQuestion(raw) ? 1 : 0)
    return {
      text: question ? raw : withoutEndPunctuation(raw),
      speaker: question ? "question" : speaker,
      window,
      order: start + i,
      score,
    }
  })

/** Clauses of a prompt this compactor (or another) wrote, with the speaker its group labels give. */
export const clausesOfPrompt = (prompt: string, basePersona: string): Array<Clause> => {
  const info = informationOf(prompt, basePersona)
  if (info.length === 0) return []
  const labels = GROUPS.map(([, label]) => label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")
  const parts = info.split(new RegExp(`(${labels})`))
  const out: Array<Clause> = []
  let speaker: Speaker = "earlier"
  for (const part of parts) {
    const group = GROUPS.find(([, label]) => label === part)
    if (group) {
      speaker = group[0]
      continue
    }
    for (const raw of part.split(/;\s+|(?<=[.!?])\s+/)) {
      const text = speaker === "question" ? raw.trim() : withoutEndPunctuation(raw.trim())
      if (text.length === 0 || text === INFORMATION_LABEL) continue
      // Carried-over clauses were worth keeping once; never let them score as small talk.
      out.push({ text, speaker, window: -1, order: out.length, score: Math.max(1, scoreClause(text)) })
    }
  }
  return out
}

export const renderClauses = (clauses: ReadonlyArray<Clause>): string => {
  const sorted = [...clauses].sort((a, b) => a.window - b.window || a.order - b.order)
  return GROUPS.flatMap(([speaker, label]) => {
    const items = sorted.filter((c) => c.speaker === speaker).map((c) => c.text)
    if (items.length === 0) return []
    if (speaker === "question") return [`${label} ${items.join(" ")}`]
    // "; " between statements, a plain space after a question mark; a final "." unless it ends in "?".
    const joined = items
      .map((t, i) => (i === items.length - 1 ? t : t.endsWith("?") ? `${t} ` : `${t}; `))
      .join("")
    return [`${label} ${joined}${joined.endsWith("?") ? "" : "."}`]
  }).join(" ")
}

/**
 * The highest-scoring clauses (newest first among equals) whose rendering fits in `room` words.
 * Near-duplicates (one contained in the other) are kept once.
 */
export const selectClauses = (candidates: ReadonlyArray<Clause>, room: number): Array<Clause> => {
  const ranked = candidates
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || b.window - a.window || a.order - b.order)
  const chosen: Array<Clause> = []
  const keys: Array<string> = []
  for (const clause of ranked) {
    const k = key(clause.text)
    if (k.length === 0 || keys.some((other) => other.includes(k) || k.includes(other))) continue
    chosen.push(clause)
    if (countWords(renderClauses(chosen)) > room) chosen.pop()
    else keys.push(k)
  }
  return chosen
}

/** Every candidate clause of a compaction input: the previous prompt's, then each window's. */
export const candidateClauses = (input: CompactionInput): Array<Clause> => {
  const carried = clausesOfPrompt(input.previousPrompt, input.basePersona)
  const fresh = input.history.flatMap((w) => [
    ...clausesOfWindow(w.userText ?? "", "user", w.index, 0),
    ...clausesOfWindow(w.agentText, "agent", w.index, 1000),
  ])
  return [...carried, ...fresh]
}

/** The information section the model-free compactor would write for this input (unwrapped). */
export const extractiveInformation = (input: CompactionInput): string => {
  const budget = input.wordBudget ?? DEFAULT_WORD_BUDGET
  const room = budget - countWords(unwrapSystemTags(input.basePersona)) - 1
  if (room <= 0) return ""
  return renderClauses(selectClauses(candidateClauses(input), room))
}

/** The model-free prompt: base persona + extracted information, wrapped, within the word budget. */
export const extractivePrompt = (input: CompactionInput): string =>
  shapePrompt(input.basePersona, extractiveInformation(input), input.wordBudget ?? DEFAULT_WORD_BUDGET)
