import { unwrapSystemTags, wrapWithSystemTags } from "./systemTags.ts"
import { countWords, truncateToWords } from "./wordBudget.ts"

/** PersonaPlex's customer-service prompts read "You work for X ... Information: ...". */
export const INFORMATION_LABEL = "Information:"

const normalize = (text: string) => unwrapSystemTags(text).replaceAll(/\s+/g, " ").trim()

/**
 * The base persona followed by what the conversation taught us, as one wrapped prompt of at most
 * `wordBudget` words between the tags. The persona is kept whole whenever it fits; the information
 * part is what gets truncated.
 */
export const shapePrompt = (basePersona: string, information: string, wordBudget: number): string => {
  const persona = normalize(basePersona)
  const info = stripInformationLabel(normalize(information))
  const personaWords = countWords(persona)
  if (info.length === 0 || personaWords >= wordBudget)
    return wrapWithSystemTags(truncateToWords(persona, wordBudget))
  // A persona that already has an "Information:" section gets the new facts appended to it.
  const label = persona.includes(INFORMATION_LABEL) ? "" : INFORMATION_LABEL
  const room = wordBudget - personaWords - (label ? 1 : 0)
  const kept = truncateToWords(info, room)
  if (kept.length === 0) return wrapWithSystemTags(persona)
  return wrapWithSystemTags([persona, label, kept].filter((s) => s.length > 0).join(" "))
}

export const stripInformationLabel = (text: string): string =>
  text.startsWith(INFORMATION_LABEL) ? text.slice(INFORMATION_LABEL.length).trim() : text

/**
 * What a prompt says beyond the base persona: the text after the persona when the prompt starts
 * with it, otherwise the whole prompt (less the tags and a leading "Information:").
 */
export const informationOf = (prompt: string, basePersona: string): string => {
  const text = normalize(prompt)
  const persona = normalize(basePersona)
  if (persona.length === 0) return stripInformationLabel(text)
  const at = text.toLowerCase().indexOf(persona.toLowerCase())
  if (at < 0) return stripInformationLabel(text)
  const rest = `${text.slice(0, at)} ${text.slice(at + persona.length)}`.trim()
  return stripInformationLabel(rest)
}

/** Words between the tags of a wrapped prompt. */
export const promptWords = (prompt: string): number => countWords(unwrapSystemTags(prompt))
