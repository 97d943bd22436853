// upstream-spec §5.4: both tags are the literal `<system>`; there is no `</system>`.
const TAG = "<system>"

/** Wrap text as PersonaPlex expects; already-wrapped text is returned trimmed but unchanged. */
export const wrapWithSystemTags = (text: string): string => {
  const trimmed = text.trim()
  if (trimmed.length >= 2 * TAG.length && trimmed.startsWith(TAG) && trimmed.endsWith(TAG)) return trimmed
  return `${TAG} ${trimmed} ${TAG}`
}

/** The text between the tags (or the whole text when it is not wrapped), with any stray tags removed. */
export const unwrapSystemTags = (text: string): string =>
  text
    .replaceAll(/<\/?system>/gi, " ")
    .replaceAll(/\s+/g, " ")
    .trim()
