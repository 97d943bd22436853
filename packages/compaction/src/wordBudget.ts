/** Words as PersonaPlex's prompt budget counts them: runs of non-whitespace. */
export const words = (text: string): Array<string> => text.split(/\s+/).filter((w) => w.length > 0)

export const countWords = (text: string): number => words(text).length

const SENTENCE_END = /[.!?;:]["')\]]*$/

/**
 * Keep at most `budget` words. When the cut lands mid-sentence and a sentence ended in the
 * last half of what is kept, cut there instead, so the prompt does not end in a fragment.
 * Deterministic: the same text and budget always give the same result.
 */
export const truncateToWords = (text: string, budget: number): string => {
  const all = words(text)
  if (all.length <= budget) return all.join(" ")
  if (budget <= 0) return ""
  const kept = all.slice(0, budget)
  if (!SENTENCE_END.test(kept[kept.length - 1]!)) {
    for (let i = kept.length - 2; i >= Math.floor(budget / 2); i--) {
      if (SENTENCE_END.test(kept[i]!)) return kept.slice(0, i + 1).join(" ")
    }
  }
  return kept.join(" ")
}
