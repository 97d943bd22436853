import * as path from "node:path"
import {
  defined,
  loadRunConfig,
  type RunConfig,
  type RunOverrides,
  resolveSettings,
} from "@personaplex/stack"
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { type InputChoice, type OutputChoice, reportPathFor, runFromSettings } from "../conversation.ts"
import { CommandFailed, userFacing } from "./failure.ts"
import { isTerminal, opt, writeOut } from "./options.ts"

const flags = {
  config: Flag.String("config").pipe(Flag.withDescription("YAML run configuration"), Flag.optional),
  input: Flag.String("input").pipe(
    Flag.withDescription("input WAV (any rate, mixed to 24 kHz mono)"),
    Flag.optional,
  ),
  output: Flag.String("output").pipe(Flag.withDescription("output WAV (24 kHz mono)"), Flag.optional),
  report: Flag.String("report").pipe(
    Flag.withDescription("run report JSON (default: next to --output, <name>.report.json)"),
    Flag.optional,
  ),
  mic: Flag.Boolean("mic").pipe(
    Flag.withDescription("capture from the default microphone"),
    Flag.withDefault(false),
  ),
  speaker: Flag.Boolean("speaker").pipe(
    Flag.withDescription("play on the default output device"),
    Flag.withDefault(false),
  ),
  windowSeconds: Flag.Finite("window-seconds").pipe(
    Flag.withDescription("window length in seconds (overrides conversation.duration; any positive value)"),
    Flag.optional,
  ),
  maxSeconds: Flag.Finite("max-seconds").pipe(
    Flag.withDescription("stop after this much input"),
    Flag.optional,
  ),
  prompt: Flag.String("prompt").pipe(Flag.withDescription("initial persona prompt"), Flag.optional),
  voice: Flag.String("voice").pipe(
    Flag.withDescription("voice: a WAV, a voice cache (voice import) or a release .pt"),
    Flag.optional,
  ),
  pace: Flag.Literals("pace", ["fast", "realtime"]).pipe(Flag.optional),
  device: Flag.Literals("device", ["cpu", "webgpu"]).pipe(Flag.optional),
  graphCapture: Flag.Boolean("graph-capture").pipe(
    Flag.withDescription(
      "WebGPU: Mimi and the fused LM step replay their recorded GPU steps (runtime.graph_capture)",
    ),
    Flag.optional,
  ),
  seed: Flag.Int("seed").pipe(Flag.optional),
}

/** `personaplex run`: the loop over a WAV file or the microphone, to a WAV file or the speaker. */
export const runCommand = Command.make("run", flags, (f) =>
  Effect.gen(function* () {
    const configPath = opt(f.config)
    const config: RunConfig = configPath === undefined ? {} : yield* userFacing(loadRunConfig(configPath))
    const input: InputChoice | undefined = f.mic
      ? { _tag: "Microphone" }
      : opt(f.input) !== undefined
        ? { _tag: "File", path: path.resolve(opt(f.input)!) }
        : undefined
    const output: OutputChoice | undefined = f.speaker
      ? { _tag: "Speaker" }
      : opt(f.output) !== undefined
        ? { _tag: "File", path: path.resolve(opt(f.output)!) }
        : undefined
    if (input === undefined) return yield* new CommandFailed({ message: "give --input <file.wav> or --mic" })
    if (output === undefined)
      return yield* new CommandFailed({ message: "give --output <file.wav> or --speaker" })
    const overrides = defined<RunOverrides>({
      windowSeconds: opt(f.windowSeconds),
      maxSeconds: opt(f.maxSeconds),
      prompt: opt(f.prompt),
      voice: opt(f.voice) === undefined ? undefined : path.resolve(opt(f.voice)!),
      // A live device runs in real time unless told otherwise.
      pace: opt(f.pace) ?? (f.mic || f.speaker ? "realtime" : undefined),
      device: opt(f.device),
      graphCapture: opt(f.graphCapture),
      seed: opt(f.seed),
    })
    const resolved = resolveSettings(config, overrides)
    if ("problems" in resolved)
      return yield* new CommandFailed({ message: `invalid settings:\n  ${resolved.problems.join("\n  ")}` })
    const reportPath = path.resolve(
      opt(f.report) ?? (output._tag === "File" ? reportPathFor(output.path) : "personaplex-run.report.json"),
    )
    yield* userFacing(
      runFromSettings({
        settings: resolved.settings,
        input,
        output,
        reportPath,
        meta: defined<Record<string, unknown>>({ config: configPath && path.resolve(configPath) }),
        write: writeOut,
        live: isTerminal(),
      }),
    )
  }),
).pipe(Command.withDescription("Run the conversation loop over a WAV file or the microphone"))
