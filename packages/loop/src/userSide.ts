// The user's side of the transcript: what a Transcriber heard, merged with the agent's text by time,
// for the compactor's input and the run report. Without a Transcriber layer every hook here leaves
// things as they were (agent text only).
import { Transcriber, type TranscriberInfo, type TranscriptPiece } from "@personaplex/transcriber"
import { Duration, Effect, Option } from "effect"
import { FRAME_MS, type Pace } from "./options.ts"
import type { RunReport } from "./report.ts"
import type { WindowTranscript } from "./services.ts"

/** One speaker's stretch of a window, timed on the input's timeline (frame n starts at n × 80 ms). */
export interface DialogueTurn {
  readonly speaker: "user" | "agent"
  readonly text: string
  readonly startMs: number
  readonly endMs: number
}

/** What the report says about the transcriber that ran. */
export interface UserTranscriptReport extends TranscriberInfo {
  readonly pieces: number
  /** Utterances the recognizer failed on (the run goes on without their text). */
  readonly failures: number
  readonly lastFailure?: string
}

interface Item extends DialogueTurn {
  readonly window: number
}

/**
 * Agent text by input frame and the user's timed pieces, merged into each window's turns in the
 * order they were said. A window holds the frames from its first one to the next window's first.
 */
export class Dialogue {
  private readonly agent: Array<{ readonly frame: number; readonly text: string }> = []
  private readonly user: Array<TranscriptPiece> = []
  private readonly starts: Array<{ readonly window: number; readonly frame: number }> = []

  /** One processed input frame of `window`, with the agent's text piece for it. */
  frame(window: number, frame: number, text: string): void {
    if (this.starts.at(-1)?.window !== window) this.starts.push({ window, frame })
    if (text.length > 0) this.agent.push({ frame, text })
  }

  userPieces(pieces: ReadonlyArray<TranscriptPiece>): void {
    this.user.push(...pieces)
  }

  get userPieceCount(): number {
    return this.user.length
  }

  private windowAt(frame: number): number {
    let i = 0
    while (i + 1 < this.starts.length && this.starts[i + 1]!.frame <= frame) i++
    return this.starts[i]?.window ?? 0
  }

  private agentItems(fromFrame = 0): Array<Item> {
    return this.agent
      .filter((a) => a.frame >= fromFrame)
      .map(
        (a): Item => ({
          speaker: "agent",
          text: a.text,
          startMs: a.frame * FRAME_MS,
          endMs: (a.frame + 1) * FRAME_MS,
          window: this.windowAt(a.frame),
        }),
      )
  }

  private userItems(fromPiece = 0): Array<Item> {
    return this.user
      .slice(fromPiece)
      .map((u): Item => ({ speaker: "user", ...u, window: this.windowAt(Math.floor(u.startMs / FRAME_MS)) }))
  }

  /** Each window's turns, by window index. */
  turns(): Map<number, Array<DialogueTurn>> {
    const byWindow = new Map<number, Array<DialogueTurn>>(this.starts.map((s) => [s.window, []]))
    for (const item of inOrder([...this.agentItems(), ...this.userItems()])) {
      const turns = byWindow.get(item.window) ?? []
      byWindow.set(item.window, turns)
      appendTurn(turns, item)
    }
    return byWindow
  }

  /**
   * The turns said after a mark, whichever window they fall in: the agent's text from input frame
   * `since.inputFrame` and the user's pieces recognized after the first `since.userPieces` (an
   * utterance begun before the mark and recognized after it is new to whoever saw the mark).
   */
  turnsSince(since: DialogueMark): Array<DialogueTurn> {
    const turns: Array<DialogueTurn> = []
    for (const item of inOrder([...this.agentItems(since.inputFrame), ...this.userItems(since.userPieces)]))
      appendTurn(turns, item)
    return turns
  }
}

/** Where the dialogue stood: the next input frame, and how many of the user's pieces were in. */
export interface DialogueMark {
  readonly inputFrame: number
  readonly userPieces: number
}

const inOrder = (items: Array<Item>) =>
  items.sort((a, b) => a.startMs - b.startMs || (a.speaker === b.speaker ? 0 : a.speaker === "user" ? -1 : 1))

/** Adds an item to a window's turns: the same speaker's stretch goes on, the other speaker's starts a turn. */
const appendTurn = (turns: Array<DialogueTurn>, item: Item) => {
  const last = turns.at(-1)
  if (last?.speaker === item.speaker)
    turns[turns.length - 1] = {
      ...last,
      // The agent's pieces carry their own spacing; the user's are whole utterances.
      text: item.speaker === "agent" ? last.text + item.text : `${last.text} ${item.text}`,
      endMs: Math.max(last.endMs, item.endMs),
    }
  else turns.push({ speaker: item.speaker, text: item.text, startMs: item.startMs, endMs: item.endMs })
}

const userTextOf = (turns: ReadonlyArray<DialogueTurn>) =>
  turns
    .filter((t) => t.speaker === "user")
    .map((t) => t.text.trim())
    .join(" ")

/** The loop's hooks for the user's side; `enabled` is false without a Transcriber layer. */
export interface UserSide {
  readonly enabled: boolean
  /**
   * One processed frame of `window`: the user's audio goes to the transcriber, the agent's text
   * piece is kept, and the utterances recognized meanwhile are collected (no waiting).
   */
  frame(window: number, inputFrame: number, userPcm: Float32Array, agentText: string): Effect.Effect<void>
  /**
   * Collects what the transcriber has finished, ending the utterance in progress. At the `fast`
   * pace it waits for every utterance; at `realtime` at most `realtimeWaitMs`, and later pieces
   * come with the next settle (the next switch, or the run's end).
   */
  readonly settle: Effect.Effect<void>
  /** The compactor's view: each window with the user's text and both speakers' turns in order (as is when disabled). */
  withUser(history: ReadonlyArray<WindowTranscript>): ReadonlyArray<WindowTranscript>
  /** How many of the user's pieces are in so far (0 when disabled): part of a transcript's mark. */
  heardPieces(): number
  /**
   * What was said after `mark`, for a redo: `tail` (the agent's text since) with the user's pieces
   * since and both speakers' turns in order (`tail` as is when disabled).
   */
  tailWithUser(tail: WindowTranscript, mark: DialogueMark): WindowTranscript
  /** The report with the user's lines: each window's `userText` and `turns`, the transcript labelled by speaker, `userTranscript`. */
  annotate(report: RunReport): RunReport
}

const disabled: UserSide = {
  enabled: false,
  frame: () => Effect.void,
  settle: Effect.void,
  withUser: (history) => history,
  heardPieces: () => 0,
  tailWithUser: (tail) => tail,
  annotate: (report) => report,
}

export const DEFAULT_REALTIME_WAIT_MS = 1500

const LABEL = { user: "User", agent: "Agent" } as const

/** The hooks over the Transcriber layer when one is provided (its timeline reset for this run). */
export const wireUserSide = (
  pace: Pace,
  realtimeWaitMs = DEFAULT_REALTIME_WAIT_MS,
): Effect.Effect<UserSide> =>
  Effect.gen(function* () {
    const found = yield* Effect.serviceOption(Transcriber)
    if (Option.isNone(found)) return disabled
    const transcriber = found.value
    yield* transcriber.reset
    const dialogue = new Dialogue()
    let failures = 0
    let lastFailure: string | undefined
    const failed = (error: { readonly message: string }) =>
      Effect.sync(() => {
        failures++
        lastFailure = error.message
      }).pipe(Effect.andThen(Effect.logWarning(error.message)))
    const collected = (pieces: ReadonlyArray<TranscriptPiece>) =>
      Effect.sync(() => dialogue.userPieces(pieces))
    const flush = transcriber.flush.pipe(Effect.flatMap(collected), Effect.catch(failed))
    return {
      enabled: true,
      frame: (window, inputFrame, userPcm, agentText) =>
        Effect.sync(() => dialogue.frame(window, inputFrame, agentText)).pipe(
          Effect.andThen(transcriber.hear(userPcm)),
          Effect.andThen(transcriber.ready),
          Effect.flatMap(collected),
          Effect.catch(failed),
        ),
      settle:
        pace === "fast"
          ? flush
          : flush.pipe(Effect.timeoutOption(Duration.millis(realtimeWaitMs)), Effect.asVoid),
      withUser: (history) => {
        const turns = dialogue.turns()
        return history.map((w): WindowTranscript => {
          const own = turns.get(w.index) ?? []
          return {
            ...w,
            userText: userTextOf(own),
            turns: own.map((t) => ({ speaker: t.speaker, text: t.text })),
          }
        })
      },
      heardPieces: () => dialogue.userPieceCount,
      tailWithUser: (tail, mark) => {
        const turns = dialogue.turnsSince(mark)
        return {
          ...tail,
          userText: userTextOf(turns),
          turns: turns.map((t) => ({ speaker: t.speaker, text: t.text })),
        }
      },
      annotate: (report) => {
        const turns = dialogue.turns()
        const windows = report.windows.map((w) => {
          const own = turns.get(w.index) ?? []
          return { ...w, userText: userTextOf(own), turns: own }
        })
        const transcript = windows
          .flatMap((w) => w.turns)
          .filter((t) => t.text.trim().length > 0)
          .map((t) => `${LABEL[t.speaker]}: ${t.text.trim()}`)
          .join("\n")
        const userTranscript: UserTranscriptReport = {
          ...transcriber.info,
          pieces: dialogue.userPieceCount,
          failures,
          ...(lastFailure !== undefined ? { lastFailure } : {}),
        }
        return { ...report, windows, transcript, userTranscript }
      },
    }
  })
