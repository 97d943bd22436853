import { Cause, Clock, Duration, Effect, Exit, Fiber, Metric, Option, Stream } from "effect"
import { compactionInput, historyOf, markOf, type TranscriptMark, tailSince } from "./compactionInput.ts"
import { compactSafely } from "./compactSafely.ts"
import { changesMaterially, earlyStartFrame, expectedCompactionMs, newWords } from "./earlyCompaction.ts"
import { LoopOptionsError } from "./errors.ts"
import { LoopEvent } from "./events.ts"
import { makeFrameReader } from "./FrameReader.ts"
import { LoopMetrics } from "./metrics.ts"
import { DEFAULT_PAUSE_MS, FRAME_MS, type LoopOptions, type Pace, type SwitchPolicy } from "./options.ts"
import { RunRecorder } from "./RunRecorder.ts"
import {
  type CompactionStage,
  type PromptSource,
  type ReportWriteError,
  type RunReport,
  type SwitchReport,
  writeReport,
} from "./report.ts"
import {
  type AudioError,
  AudioSink,
  AudioSource,
  type CodecError,
  type CompactionResult,
  Compactor,
  FRAME_SIZE,
  type LmError,
  LmGen,
  MimiCodec,
  TEXT_PAD,
  TextTokenizer,
  type TextTokenizerShape,
  VoiceActivity,
  type VoiceActivityError,
  type WindowTranscript,
  wrapWithSystemTags,
} from "./services.ts"
import { SilenceCounter, type SwitchReason, switchReason } from "./switchPolicy.ts"
import { wireUserSide } from "./userSide.ts"

/**
 * Everything a conversation needs; each is a swappable layer. A `VoiceActivity` layer in the context
 * too is optional: it listens to the user (needed by `switchPolicy: pause`, reported otherwise).
 */
export type LoopServices = MimiCodec | LmGen | TextTokenizer | AudioSource | AudioSink | Compactor

/** Failures that end a run (compaction failures never do: the fallback prompt replaces the result). */
export type LoopError =
  | CodecError
  | LmError
  | AudioError
  | VoiceActivityError
  | ReportWriteError
  | LoopOptionsError

const nowMs = Effect.map(Clock.currentTimeNanos, (n) => Number(n) / 1e6)

const silence = () => new Float32Array(FRAME_SIZE)

/** A frame ramped down to silence over its 80 ms: the last frame of a clip cut short, without a click. */
const fadedOut = (frame: Float32Array) => frame.map((x, i) => x * (1 - i / frame.length))

const round3 = (x: number) => Math.round(x * 1000) / 1000

/**
 * The text of a generated token, or `undefined` for an id the tokenizer does not know (an LM
 * whose text vocabulary is larger than the tokenizer's, as with mismatched smoke models).
 */
const textOf = (tokenizer: TextTokenizerShape, id: number): string | undefined =>
  id >= 0 && id < tokenizer.vocabSize ? tokenizer.textPiece(id) : undefined

interface NextPrompt {
  readonly prompt: string
  readonly source: PromptSource
  readonly reason: string | undefined
}

const validate = (options: LoopOptions): Effect.Effect<void, LoopOptionsError> => {
  const bad = (field: string, message: string) => Effect.fail(new LoopOptionsError({ field, message }))
  if (!Number.isInteger(options.windowFrames) || options.windowFrames < 1)
    return bad("windowFrames", `windowFrames: expected a positive integer, got ${options.windowFrames}`)
  const wrong = options.thinkingClip.findIndex((f) => f.length !== FRAME_SIZE)
  if (wrong >= 0)
    return bad(
      "thinkingClip",
      `thinkingClip: frame ${wrong} has ${options.thinkingClip[wrong]!.length} samples, expected ${FRAME_SIZE}`,
    )
  const clipMinMs = options.thinkingClipMinMs
  if (clipMinMs !== undefined && !(clipMinMs >= 0 && Number.isFinite(clipMinMs)))
    return bad("thinkingClipMinMs", `thinkingClipMinMs: expected a number of ms ≥ 0, got ${clipMinMs}`)
  if (options.maxWindows !== undefined && (!Number.isInteger(options.maxWindows) || options.maxWindows < 1))
    return bad("maxWindows", `maxWindows: expected a positive integer, got ${options.maxWindows}`)
  const policy = options.switchPolicy
  if (policy?.mode === "pause") {
    const pauseMs = policy.pauseMs ?? DEFAULT_PAUSE_MS
    if (!(pauseMs > 0 && Number.isFinite(pauseMs)))
      return bad(
        "switchPolicy.pauseMs",
        `switchPolicy.pauseMs: expected a positive number of ms, got ${pauseMs}`,
      )
    if (!Number.isInteger(policy.maxWindowFrames) || policy.maxWindowFrames < options.windowFrames)
      return bad(
        "switchPolicy.maxWindowFrames",
        `switchPolicy.maxWindowFrames: expected an integer ≥ windowFrames (${options.windowFrames}), got ${policy.maxWindowFrames}`,
      )
  }
  const early = options.earlyCompaction
  if (early !== undefined) {
    if (!(early.expectedMs >= 0 && Number.isFinite(early.expectedMs)))
      return bad(
        "earlyCompaction.expectedMs",
        `earlyCompaction.expectedMs: expected a number of ms ≥ 0, got ${early.expectedMs}`,
      )
    if (early.redoMinWords !== undefined && (!Number.isInteger(early.redoMinWords) || early.redoMinWords < 1))
      return bad(
        "earlyCompaction.redoMinWords",
        `earlyCompaction.redoMinWords: expected a positive integer, got ${early.redoMinWords}`,
      )
  }
  return Effect.void
}

/** An early compaction under way: its fiber, where the transcript stood, and when it started. */
interface EarlyCompaction {
  readonly fiber: Fiber.Fiber<CompactionResult>
  readonly mark: TranscriptMark
  readonly startFrame: number
  readonly expectedMs: number
}

/** How a window ended, handed to its switch. */
interface Cut {
  readonly reason: SwitchReason
  readonly framesInWindow: number
  readonly silent: SilenceCounter
  readonly early: EarlyCompaction | undefined
}

/**
 * The conversation loop. Window after window: inject the system prompt, then for every
 * 80 ms input frame encode → LM step → decode → write; at the end of a window play the
 * thinking clip while the compactor turns the transcript into the next prompt, inject
 * it, go on. Ends when the input ends (or `maxWindows`/`maxInputFrames` is reached).
 *
 * However the run ends (completed, failed, interrupted), the report reflects everything
 * done so far and is written to `options.reportPath` when given.
 */
export const runConversation = (
  options: LoopOptions,
  onEvent: (event: LoopEvent) => Effect.Effect<void> = () => Effect.void,
): Effect.Effect<RunReport, LoopError, LoopServices> =>
  Effect.gen(function* () {
    yield* validate(options)
    const codec = yield* MimiCodec
    const lm = yield* LmGen
    const tokenizer = yield* TextTokenizer
    const source = yield* AudioSource
    const sink = yield* AudioSink
    const compactor = yield* Compactor
    const vad = Option.getOrUndefined(yield* Effect.serviceOption(VoiceActivity))
    const policy: SwitchPolicy = options.switchPolicy ?? { mode: "fixed" }
    if (policy.mode === "pause" && vad === undefined)
      return yield* new LoopOptionsError({
        field: "switchPolicy",
        message: "switchPolicy: pause needs a VoiceActivity layer (VoiceActivity.silero or .energy)",
      })

    const pace: Pace = options.pace ?? "fast"
    const clip = options.thinkingClip
    const userSide = yield* wireUserSide(pace)
    const recorder = new RunRecorder({
      startedAtMs: yield* Clock.currentTimeMillis,
      ...(options.startedAtMs !== undefined ? { runStartedAtMs: options.startedAtMs } : {}),
      pace,
      windowFrames: options.windowFrames,
      thinkingClipFrames: clip.length,
      annotate: userSide.annotate,
      meta: {
        ...options.reportMeta,
        ...(vad !== undefined ? { voiceActivity: vad.detector } : {}),
        // What ran the LM, whichever layer provided it.
        lm: {
          engine: lm.lm.form,
          provider: lm.lm.provider,
          context: lm.lm.context,
          quantization: lm.lm.quantization,
          depformerSteps: lm.lm.depformerSteps,
          weights: lm.lm.graphSource,
        },
        // What ran Mimi: the providers its sessions were opened on, and how they step.
        codec: {
          encoder: codec.providers.encoder,
          decoder: codec.providers.decoder,
          form: codec.form,
        },
      },
    })

    const write = (frame: Float32Array) =>
      Effect.tap(sink.write(frame), () => Effect.sync(() => recorder.outputFrames++))

    /** Reset the LM and prefill voice + silence + text + silence; fresh codec state after. */
    const injectPrompt = (window: number, prompt: string) =>
      Effect.gen(function* () {
        // An empty prompt injects no text at all, as upstream does (no `<system>  <system>`).
        const textTokens =
          prompt.trim() === "" ? new Int32Array(0) : tokenizer.encode(wrapWithSystemTags(prompt))
        const start = yield* nowMs
        yield* lm.prompt({
          ...(options.voice !== undefined ? { voice: options.voice } : {}),
          textTokens,
          ...(options.silenceFrames !== undefined ? { silenceFrames: options.silenceFrames } : {}),
        })
        yield* codec.reset
        const promptMs = (yield* nowMs) - start
        yield* Metric.update(LoopMetrics.promptMs, promptMs)
        yield* onEvent(
          LoopEvent.PromptInjected({ window, prompt, promptTokens: textTokens.length, promptMs }),
        )
        return { promptTokens: textTokens.length, promptMs }
      })

    const startWindow = (
      index: number,
      next: NextPrompt,
      injected: { promptTokens: number; promptMs: number },
    ) =>
      Effect.gen(function* () {
        recorder.openWindow({
          index,
          prompt: next.prompt,
          promptSource: next.source,
          promptReason: next.reason,
          ...injected,
        })
        yield* Metric.update(LoopMetrics.windows, 1)
        yield* onEvent(
          LoopEvent.WindowStarted({
            window: index,
            prompt: next.prompt,
            promptSource: next.source,
            ...injected,
            outputFrame: recorder.outputFrames,
          }),
        )
      })

    /** One 80 ms frame from microphone to speaker; says whether the user spoke and the agent padded. */
    const processFrame = (window: number, frame: Float32Array) =>
      Effect.gen(function* () {
        const inputFrame = recorder.inputFrames++
        // The detector hears the user's frame meanwhile (its session has a worker thread of its own).
        const heard = vad !== undefined ? yield* Effect.forkChild(vad.push(frame)) : undefined
        const t0 = yield* nowMs
        const userCodes = yield* codec.encode(frame)
        const t1 = yield* nowMs
        const tokens = yield* lm.step(userCodes)
        const t2 = yield* nowMs
        const agentPcm =
          tokens === undefined ? silence() : yield* codec.decode(tokens.slice(1, 1 + codec.numCodebooks))
        const t3 = yield* nowMs
        yield* write(agentPcm)
        recorder.frameOut(yield* Clock.currentTimeMillis)

        const piece = tokens === undefined ? "" : textOf(tokenizer, tokens[0]!)
        const text = piece ?? ""
        yield* userSide.frame(window, inputFrame, frame, text)
        const timing = { encodeMs: t1 - t0, stepMs: t2 - t1, decodeMs: t3 - t2, totalMs: t3 - t0 }
        const late = recorder.frame(timing, tokens === undefined, text, piece === undefined)
        yield* Metric.update(LoopMetrics.frameMs, timing.totalMs)
        yield* onEvent(
          LoopEvent.FrameProcessed({ window, inputFrame, ...timing, agentAudio: tokens !== undefined }),
        )
        if (late) {
          yield* Metric.update(LoopMetrics.lateFrames, 1)
          yield* onEvent(LoopEvent.LateFrame({ window, inputFrame, totalMs: timing.totalMs }))
        }
        if (text.length > 0) yield* onEvent(LoopEvent.TextPiece({ window, inputFrame, text }))
        const activity = heard !== undefined ? yield* Fiber.join(heard) : undefined
        return { userSpeech: activity?.speech, agentPadding: tokens === undefined || tokens[0] === TEXT_PAD }
      })

    /** The next prompt from a transcript, announced by events and recorded as metrics. */
    const compact = (
      afterWindow: number,
      previousPrompt: string,
      history: ReadonlyArray<WindowTranscript>,
      stage: CompactionStage,
    ) =>
      Effect.gen(function* () {
        yield* onEvent(LoopEvent.CompactionStarted({ afterWindow, stage }))
        const input = compactionInput(options, previousPrompt, history)
        const result = yield* compactSafely(compactor, input, options.compactionDeadlineMs)
        yield* Metric.update(LoopMetrics.compactionMs, result.durationMs)
        yield* onEvent(
          LoopEvent.CompactionEnded({
            afterWindow,
            stage,
            prompt: result.prompt,
            source: result.source,
            reason: result.reason,
            durationMs: result.durationMs,
          }),
        )
        return result
      })

    /** Durations of the full compactions so far (early or at the switch), to plan the next early one. */
    const compactionTimes: Array<number> = []

    const startEarly = (window: number, previousPrompt: string, startFrame: number, expectedMs: number) =>
      Effect.gen(function* () {
        const mark = markOf(recorder, window, userSide.heardPieces())
        const fiber = yield* Effect.forkChild(
          compact(window, previousPrompt, userSide.withUser(historyOf(recorder)), "early"),
        )
        return { fiber, mark, startFrame, expectedMs } satisfies EarlyCompaction
      })

    /**
     * The next prompt at a switch: compacted now, or the early compaction's (awaited if still
     * running), compacted again on what was said after its transcript if that changes it materially.
     */
    const compactForSwitch = (afterWindow: number, previousPrompt: string, cut: Cut) =>
      Effect.gen(function* () {
        yield* userSide.settle
        const early = cut.early
        if (early === undefined) {
          const result = yield* compact(
            afterWindow,
            previousPrompt,
            userSide.withUser(historyOf(recorder)),
            "at_switch",
          )
          compactionTimes.push(result.durationMs)
          return { result, early: undefined }
        }
        const first = yield* Fiber.join(early.fiber)
        compactionTimes.push(first.durationMs)
        const tail = userSide.tailWithUser(tailSince(recorder, early.mark), early.mark)
        const summary = {
          leadMs: (cut.framesInWindow - early.startFrame) * FRAME_MS,
          expectedMs: round3(early.expectedMs),
          durationMs: round3(first.durationMs),
          newWords: newWords(tail),
        }
        if (!changesMaterially(options.earlyCompaction!, tail))
          return { result: first, early: { ...summary, redone: false } }
        const redo = yield* compact(afterWindow, first.prompt, [tail], "redo")
        return {
          result: { ...redo, durationMs: first.durationMs + redo.durationMs },
          early: { ...summary, redone: true, redoMs: round3(redo.durationMs) },
        }
      })

    const sleepUntil = (targetMs: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        targetMs > now ? Effect.sleep(Duration.millis(targetMs - now)) : Effect.void,
      )

    return yield* Effect.scoped(
      Effect.gen(function* () {
        const frames =
          options.maxInputFrames !== undefined
            ? Stream.take(source.frames, options.maxInputFrames)
            : source.frames
        const reader = yield* makeFrameReader(frames)
        yield* onEvent(
          LoopEvent.RunStarted({ windowFrames: options.windowFrames, pace, thinkingClipFrames: clip.length }),
        )

        /**
         * Window switch: the compactor (then the prompt injection for the next window) runs
         * in the background while the thinking clip is written; see `Pace` for what happens
         * to input and output meanwhile.
         */
        const runSwitch = (afterWindow: number, previousPrompt: string, cut: Cut) =>
          Effect.gen(function* () {
            const startMs = yield* Clock.currentTimeMillis
            const startPrecise = yield* nowMs
            let ready = false
            const work = yield* Effect.forkChild(
              Effect.gen(function* () {
                const { result, early } = yield* compactForSwitch(afterWindow, previousPrompt, cut)
                const compactionWaitMs = (yield* nowMs) - startPrecise
                const injected = yield* injectPrompt(afterWindow + 1, result.prompt)
                return { result, early, compactionWaitMs, injected }
              }).pipe(Effect.ensuring(Effect.sync(() => (ready = true)))),
            )

            let dropped = 0
            const dropper =
              pace === "realtime"
                ? yield* Effect.forkChild(
                    Effect.forever(
                      Effect.flatMap(reader.next, (frame) =>
                        Option.isSome(frame) ? Effect.sync(() => dropped++) : Effect.never,
                      ),
                    ),
                  )
                : undefined

            // Live, the clip may end early once the next window is ready (see `thinkingClipMinMs`).
            const fullFrames =
              pace === "realtime" && options.thinkingClipMinMs !== undefined
                ? Math.ceil(options.thinkingClipMinMs / FRAME_MS)
                : clip.length
            let slot = 0
            let cutShort = false
            for (const frame of clip) {
              if (pace === "realtime") yield* sleepUntil(startMs + slot * FRAME_MS)
              cutShort = ready && slot >= fullFrames && slot < clip.length - 1
              yield* write(cutShort ? fadedOut(frame) : frame)
              slot++
              if (cutShort) break
            }
            const clipFrames = slot
            let silenceFrames = 0
            if (pace === "realtime") {
              while (!ready) {
                yield* Effect.raceFirst(Fiber.await(work), sleepUntil(startMs + slot * FRAME_MS))
                if (ready) break
                yield* write(silence())
                silenceFrames++
                slot++
              }
            }
            const { result, early, compactionWaitMs, injected } = yield* Fiber.join(work)
            if (dropper) yield* Fiber.interrupt(dropper)

            const pauseMs = (yield* nowMs) - startPrecise
            yield* Metric.update(LoopMetrics.pauseMs, pauseMs)
            const switched: SwitchReport = {
              afterWindow,
              reason: cut.reason,
              ...(vad !== undefined ? { userSilentMs: cut.silent.userFrames * FRAME_MS } : {}),
              agentSilentMs: cut.silent.agentFrames * FRAME_MS,
              compaction: {
                prompt: result.prompt,
                source: result.source,
                ...(result.reason !== undefined ? { reason: result.reason } : {}),
                durationMs: round3(result.durationMs),
                ...(early !== undefined ? { early } : {}),
              },
              clipFrames,
              ...(cutShort ? { clipCutShort: true } : {}),
              silenceFrames,
              droppedInputFrames: dropped,
              pauseMs: round3(pauseMs),
              compactionWaitMs: round3(compactionWaitMs),
            }
            recorder.addSwitch(switched)
            yield* onEvent(
              LoopEvent.SwitchEnded({
                afterWindow,
                reason: cut.reason,
                pauseMs,
                clipFrames,
                silenceFrames,
                droppedInputFrames: dropped,
              }),
            )
            const next: NextPrompt = { prompt: result.prompt, source: result.source, reason: result.reason }
            return { next, injected }
          })

        // The first prompt goes in before the first frame is read: a live source starts
        // delivering when first pulled, and must not pile up frames during the prefill.
        let next: NextPrompt = {
          prompt: options.initialPrompt.trim() === "" ? "" : wrapWithSystemTags(options.initialPrompt),
          source: "initial",
          reason: undefined,
        }
        let injected = yield* injectPrompt(0, next.prompt)
        let pending = yield* reader.next
        if (Option.isNone(pending)) return

        for (let window = 0; ; window++) {
          yield* startWindow(window, next, injected)
          const lastWindow = options.maxWindows !== undefined && window + 1 >= options.maxWindows
          const expectedMs =
            options.earlyCompaction && expectedCompactionMs(options.earlyCompaction, compactionTimes)
          const earlyAt =
            expectedMs !== undefined && !lastWindow
              ? earlyStartFrame(options.windowFrames, expectedMs)
              : undefined
          const silent = new SilenceCounter()
          let early: EarlyCompaction | undefined
          let framesInWindow = 0
          let reason: SwitchReason | undefined
          while (reason === undefined) {
            if (earlyAt !== undefined && early === undefined && framesInWindow >= earlyAt)
              early = yield* startEarly(window, next.prompt, framesInWindow, expectedMs!)
            const frame = Option.isSome(pending) ? pending : yield* reader.next
            pending = Option.none()
            if (Option.isNone(frame)) break
            const heard = yield* processFrame(window, frame.value)
            silent.frame(heard.userSpeech, heard.agentPadding)
            framesInWindow++
            reason = switchReason(policy, options.windowFrames, framesInWindow, silent)
          }
          const closed = recorder.closeWindow()!
          yield* onEvent(
            LoopEvent.WindowEnded({ window, inputFrames: closed.inputFrames, agentText: closed.agentText }),
          )
          if (reason === undefined || lastWindow) return
          // Only switch when there is more to hear: no thinking clip after the last window.
          pending = yield* reader.next
          if (Option.isNone(pending)) return
          const switched = yield* runSwitch(window, next.prompt, {
            reason,
            framesInWindow,
            silent,
            early,
          })
          next = switched.next
          injected = switched.injected
        }
      }),
    ).pipe(
      Effect.flatMap(() =>
        Effect.gen(function* () {
          yield* userSide.settle
          const report = recorder.snapshot("completed", yield* Clock.currentTimeMillis)
          if (options.reportPath !== undefined) yield* writeReport(options.reportPath, report)
          yield* onEvent(LoopEvent.RunEnded({ report }))
          return report
        }),
      ),
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? Effect.void
          : Effect.gen(function* () {
              const interrupted = Cause.hasInterruptsOnly(exit.cause)
              const report = recorder.snapshot(
                interrupted ? "interrupted" : "failed",
                yield* Clock.currentTimeMillis,
                interrupted ? undefined : Cause.pretty(exit.cause),
              )
              if (options.reportPath !== undefined)
                yield* writeReport(options.reportPath, report).pipe(
                  Effect.catch((error) => Effect.logError(error.message)),
                )
              yield* onEvent(LoopEvent.RunEnded({ report }))
            }),
      ),
    )
  })
