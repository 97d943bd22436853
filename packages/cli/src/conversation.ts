import * as fs from "node:fs"
import * as path from "node:path"
import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { runConversation } from "@personaplex/loop"
import { Effect, Layer } from "effect"
import { formatSummary, makeProgress } from "./progress.ts"
import type { RunSettings } from "./settings.ts"
import { engineLayer, loopOptions, resolveModelFiles } from "./wiring.ts"

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

/** The default report path next to an output file: `out.wav` → `out.report.json`. */
export const reportPathFor = (output: string) =>
  path.join(path.dirname(output), `${path.basename(output, path.extname(output))}.report.json`)

/**
 * Loads the models, wires the layers and runs the conversation loop with a progress display;
 * prints the summary when the run ends, also when it is interrupted (Ctrl-C) or fails.
 */
export const runFromSettings = (request: ConversationRequest) =>
  Effect.gen(function* () {
    const { settings } = request
    const files = yield* resolveModelFiles(settings.models)
    const options = yield* loopOptions(settings, {
      reportPath: request.reportPath,
      reportMeta: {
        ...request.meta,
        input: request.input._tag === "File" ? request.input.path : "microphone",
        output: request.output._tag === "File" ? request.output.path : "speaker",
        models: { mimi: files.mimi, lm: files.lm, tokenizer: files.tokenizer },
        device: settings.device,
        graphCapture: settings.graphCapture,
        quantization: settings.quantization,
        compactor: settings.compactor._tag,
      },
    })
    const source =
      request.input._tag === "File"
        ? AudioSource.wavFile(request.input.path, { pace: settings.pace })
        : AudioSource.microphone()
    if (request.output._tag === "File") fs.mkdirSync(path.dirname(request.output.path), { recursive: true })
    const sink = request.output._tag === "File" ? AudioSink.wavFile(request.output.path) : AudioSink.speaker()
    const progress = makeProgress({ live: request.live, write: request.write })
    return yield* runConversation(options, (event) =>
      Effect.andThen(progress.onEvent(event), () =>
        event._tag === "RunEnded"
          ? Effect.sync(() =>
              request.write(
                `${formatSummary(event.report, {
                  ...(request.output._tag === "File" ? { output: request.output.path } : {}),
                  report: request.reportPath,
                })}\n`,
              ),
            )
          : Effect.void,
      ),
    ).pipe(Effect.provide(Layer.mergeAll(engineLayer(settings, files), source, sink)))
  })
