import * as fs from "node:fs"
import * as path from "node:path"
import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { type RunReport, type RunStatus, runConversation, summarize, writeReport } from "@personaplex/loop"
import {
  engineLayer,
  loopOptions,
  type ModelFiles,
  type RunSettings,
  resolveModelFiles,
} from "@personaplex/stack"
import { Cause, Data, Effect, Exit, Layer } from "effect"
import { CommandFailed, userMessageOf } from "./commands/failure.ts"
import { formatSummary, makeProgress } from "./progress.ts"

export type InputChoice = { readonly _tag: "File"; readonly path: string } | { readonly _tag: "Microphone" }
export type OutputChoice = { readonly _tag: "File"; readonly path: string } | { readonly _tag: "Speaker" }

export interface ConversationRequest {
  readonly settings: RunSettings
  readonly input: InputChoice
  readonly output: OutputChoice
  readonly reportPath: string
  readonly meta?: Record<string, unknown>
  readonly write: (text: string) => void
  /** Redraw a status line in place (a terminal). */
  readonly live: boolean
}

/** An output or report path that cannot be written: a folder, or below something that is not a folder. */
export class OutputPathError extends Data.TaggedError("OutputPathError")<{
  readonly field: string
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.field} ${this.path}: ${this.reason}`
  }
}

/** The default report path next to an output file: `out.wav` → `out.report.json`. */
export const reportPathFor = (output: string) =>
  path.join(path.dirname(output), `${path.basename(output, path.extname(output))}.report.json`)

/** Why `file` cannot be created: it is a folder, or one of the folders above it is a file. */
const pathProblem = (file: string): string | undefined => {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return "is a folder, not a file name"
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(dir))
      return fs.statSync(dir).isDirectory() ? undefined : `${dir} is a file, not a folder`
    if (path.dirname(dir) === dir) return undefined
  }
}

/** Checks that `file` can be written and creates its folder; nothing else is touched. */
export const prepareOutputPath = (field: string, file: string) =>
  Effect.try({
    try: () => {
      const problem = pathProblem(file)
      if (problem !== undefined) throw new OutputPathError({ field, path: file, reason: problem })
      fs.mkdirSync(path.dirname(file), { recursive: true })
    },
    catch: (cause) =>
      cause instanceof OutputPathError
        ? cause
        : new OutputPathError({ field, path: file, reason: (cause as Error).message }),
  })

/**
 * The hint for a checkpoint whose tensors have other shapes than the configured architecture: a
 * checkpoint of another size needs its architecture JSON, under the config key that names it.
 */
export const checkpointSizeHint = (error: unknown, settings: RunSettings, files: ModelFiles) => {
  const e = error as {
    _tag?: string
    path?: unknown
    checkpoint?: unknown
    reason?: unknown
    expected?: unknown
  }
  const configs = settings.models._tag === "Files" ? settings.models : undefined
  const hint = (what: string, file: string, key: string, given: string | undefined) =>
    given === undefined
      ? `${file} holds ${what} of another size than PersonaPlex's: give its architecture JSON (upstream layout) as ${key} in the run configuration`
      : `${key} (${given}) does not describe ${file}: give the architecture JSON that checkpoint was made with`
  if (e._tag === "TensorMismatchError" && e.path === files.mimi && String(e.expected).startsWith("shape"))
    return hint("a Mimi codec", files.mimi, "model.mimi_config", configs?.mimiConfig)
  if (e._tag === "LmWeightsError" && e.checkpoint === files.lm && /expected shape/.test(String(e.reason)))
    return hint("an LM", files.lm, "model.lm_config", configs?.lmConfig)
  return undefined
}

/** The report of a run that ended before the loop started (loading the models, the input, the voice). */
const reportBeforeStart = (
  status: RunStatus,
  error: string | undefined,
  startedAtMs: number,
  settings: RunSettings,
  meta: Record<string, unknown>,
): RunReport => {
  const none = summarize([])
  return {
    version: 1,
    status,
    ...(error !== undefined ? { error } : {}),
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date().toISOString(),
    pace: settings.pace,
    windowFrames: settings.windowFrames,
    thinkingClipFrames: 0,
    meta: { ...meta, endedWhile: "loading" },
    inputFrames: 0,
    outputFrames: 0,
    windows: [],
    switches: [],
    transcript: "",
    timings: {
      wallMs: Date.now() - startedAtMs,
      realTimeFactor: 0,
      frame: none,
      encode: none,
      step: none,
      decode: none,
      lateFrames: 0,
      pauseMs: [],
    },
  }
}

const causeMessage = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  return error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? userMessageOf(error as { message: string })
    : String(error)
}

/**
 * Loads the models, wires the layers and runs the conversation loop with a progress display;
 * prints the summary when the run ends, also when it is interrupted (Ctrl-C) or fails.
 *
 * Nothing is lost and nothing is misreported: the output WAV replaces an earlier file only once
 * the run has produced audio (see `AudioSink.wavFile`), and the report always describes this run,
 * also one that fails or is interrupted while the models, the input or the voice load (status
 * `failed`/`interrupted`, no frames, the reason).
 */
export const runFromSettings = (request: ConversationRequest) => {
  const { settings } = request
  const startedAtMs = Date.now()
  const baseMeta: Record<string, unknown> = {
    ...request.meta,
    input: request.input._tag === "File" ? request.input.path : "microphone",
    output: request.output._tag === "File" ? request.output.path : "speaker",
    device: settings.device,
    ...(settings.codecDevice === settings.device ? {} : { codecDevice: settings.codecDevice }),
    graphCapture: settings.graphCapture,
    quantization: settings.quantization,
    ...(settings.int8Activations ? { int8Activations: true } : {}),
    compactor: settings.compactor._tag,
  }
  let loopEnded = false
  let reportWritable = false
  let files: ModelFiles | undefined

  const run = Effect.gen(function* () {
    // The output's problem is named first; the report is still written when only the output is bad.
    const reportReady = yield* Effect.exit(prepareOutputPath("run report", request.reportPath))
    reportWritable = Exit.isSuccess(reportReady)
    if (request.output._tag === "File") yield* prepareOutputPath("output file", request.output.path)
    yield* reportReady
    files = yield* resolveModelFiles(settings.models)
    const resolved = files
    const options = yield* loopOptions(settings, {
      reportPath: request.reportPath,
      startedAtMs,
      reportMeta: {
        ...baseMeta,
        models: { mimi: resolved.mimi, lm: resolved.lm, tokenizer: resolved.tokenizer },
      },
    })
    const source =
      request.input._tag === "File"
        ? AudioSource.wavFile(request.input.path, { pace: settings.pace })
        : AudioSource.microphone()
    const sink = request.output._tag === "File" ? AudioSink.wavFile(request.output.path) : AudioSink.speaker()
    const progress = makeProgress({ live: request.live, write: request.write })
    return yield* runConversation(options, (event) =>
      Effect.andThen(progress.onEvent(event), () =>
        event._tag === "RunEnded"
          ? Effect.sync(() => {
              loopEnded = true
              request.write(
                `${formatSummary(event.report, {
                  ...(request.output._tag === "File" ? { output: request.output.path } : {}),
                  report: request.reportPath,
                })}\n`,
              )
            })
          : Effect.void,
      ),
    ).pipe(Effect.provide(Layer.mergeAll(engineLayer(settings, resolved), source, sink)))
  })

  /** A run that ended before the loop did: write its report (the loop writes its own otherwise). */
  const reportEarlyEnd = <A, E>(exit: Exit.Exit<A, E>) => {
    if (loopEnded || !reportWritable || Exit.isSuccess(exit)) return Effect.void
    const interrupted = Cause.hasInterruptsOnly(exit.cause)
    const status: RunStatus = interrupted ? "interrupted" : "failed"
    const meta =
      files === undefined
        ? baseMeta
        : { ...baseMeta, models: { mimi: files.mimi, lm: files.lm, tokenizer: files.tokenizer } }
    const report = reportBeforeStart(
      status,
      interrupted ? undefined : causeMessage(exit.cause),
      startedAtMs,
      settings,
      meta,
    )
    const untouched =
      request.output._tag === "File" ? `, ${request.output.path} not written` : ", nothing played"
    return writeReport(request.reportPath, report).pipe(
      Effect.andThen(() =>
        Effect.sync(() =>
          request.write(
            `Run ${status} before the first frame (no audio produced${untouched}); run report ${request.reportPath}\n`,
          ),
        ),
      ),
      Effect.catch((error) => Effect.sync(() => request.write(`${error.message}\n`))),
    )
  }

  return run.pipe(
    Effect.mapError((error) => {
      const hint = files === undefined ? undefined : checkpointSizeHint(error, settings, files)
      return hint === undefined ? error : new CommandFailed({ message: userMessageOf(error), hint })
    }),
    Effect.onExit(reportEarlyEnd),
  )
}
