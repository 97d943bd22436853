import type { LoopOptions } from "./options.ts"
import type { RunRecorder } from "./RunRecorder.ts"
import type { CompactionInput, WindowTranscript } from "./services.ts"
import type { DialogueMark } from "./userSide.ts"

/**
 * Where the transcript stood when an early compaction took it: the window, how much of its agent
 * text there was, the next input frame and how many of the user's pieces were in. What was said
 * after it is the tail a redo compacts.
 */
export interface TranscriptMark extends DialogueMark {
  readonly window: number
  readonly agentTextLength: number
}

/** Every window so far, the open one included (its text up to now). */
export const historyOf = (recorder: RunRecorder): ReadonlyArray<WindowTranscript> =>
  recorder.agentTexts().map((w): WindowTranscript => ({ index: w.index, agentText: w.agentText }))

export const markOf = (recorder: RunRecorder, window: number, userPieces: number): TranscriptMark => ({
  window,
  agentTextLength: recorder.currentText().length,
  inputFrame: recorder.inputFrames,
  userPieces,
})

/** The agent's text of the window `mark.window` after the mark (it may be closed by now). */
export const tailSince = (recorder: RunRecorder, mark: TranscriptMark): WindowTranscript => {
  const window = recorder.agentTexts().find((w) => w.index === mark.window)
  return { index: mark.window, agentText: (window?.agentText ?? "").slice(mark.agentTextLength) }
}

/** The compactor's input at a switch: the one place it is built. */
export const compactionInput = (
  options: LoopOptions,
  previousPrompt: string,
  history: ReadonlyArray<WindowTranscript>,
): CompactionInput => ({
  basePersona: options.initialPrompt,
  history,
  previousPrompt,
  ...(options.wordBudget !== undefined ? { wordBudget: options.wordBudget } : {}),
})
