import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import {
  type CompactorChoice,
  DEFAULT_PROMPT,
  defined,
  ensureSmokeModels,
  packageRootOf,
  type RunSettings,
  secondsToFrames,
} from "@personaplex/stack"
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { runFromSettings } from "../conversation.ts"
import { CommandFailed, userFacing } from "./failure.ts"
import { isTerminal, opt, writeOut } from "./options.ts"

/** `<cli package>/node_modules/.cache/personaplex-demo`, unless PERSONAPLEX_DEMO_CACHE says otherwise. */
export const defaultDemoCache = () =>
  process.env.PERSONAPLEX_DEMO_CACHE ??
  path.join(packageRootOf(import.meta.url), "node_modules", ".cache", "personaplex-demo")

const flags = {
  outDir: Flag.String("out-dir").pipe(
    Flag.withDescription("where out.wav and report.json go (default ./personaplex-demo)"),
    Flag.withDefault("personaplex-demo"),
  ),
  input: Flag.String("input").pipe(
    Flag.withDescription("input WAV (default: the spoken sample shipped with @personaplex/audio-io)"),
    Flag.optional,
  ),
  windowSeconds: Flag.Finite("window-seconds").pipe(
    Flag.withDescription("window length in seconds (default 1.28 s: three windows over the shipped sample)"),
    Flag.withDefault(1.28),
  ),
  maxSeconds: Flag.Finite("max-seconds").pipe(
    Flag.withDescription("stop after this much input"),
    Flag.optional,
  ),
  cacheDir: Flag.String("cache-dir").pipe(
    Flag.withDescription("where the smoke models are generated"),
    Flag.optional,
  ),
  gguf: Flag.String("gguf").pipe(
    Flag.withDescription(
      "a GGUF model for compaction (default: $PERSONAPLEX_COMPACTOR_GGUF, else model-free)",
    ),
    Flag.optional,
  ),
  seed: Flag.Int("seed").pipe(Flag.withDefault(42424242)),
}

export const SMOKE_BANNER = [
  "personaplex demo — running on SMOKE MODELS: random weights of the tiny Mimi and LM architectures",
  "(upstream tensor names, tiny widths), not PersonaPlex. Everything else is real: codec → LM → codec per",
  "80 ms frame, text collection, compaction, thinking clip, re-prompting. The agent's audio and text are",
  "noise; for a real conversation use `personaplex run --config ...` with the PersonaPlex weights.",
].join("\n")

/** `personaplex demo`: the whole loop on generated smoke models, the shipped sample and thinking clip. */
export const demoCommand = Command.make("demo", flags, (f) =>
  Effect.gen(function* () {
    if (!(f.windowSeconds > 0))
      return yield* new CommandFailed({
        message: `--window-seconds: expected a positive number, got ${f.windowSeconds}`,
      })
    writeOut(`${SMOKE_BANNER}\n\n`)
    const cacheDir = path.resolve(opt(f.cacheDir) ?? defaultDemoCache())
    const models = yield* userFacing(ensureSmokeModels(cacheDir))
    writeOut(`smoke models ${models.generated ? "generated in" : "reused from"} ${models.dir}\n`)

    const gguf = opt(f.gguf) ?? process.env.PERSONAPLEX_COMPACTOR_GGUF
    const compactor: CompactorChoice =
      gguf === undefined ? { _tag: "ModelFree" } : { _tag: "LlamaCpp", path: path.resolve(gguf), threads: 2 }
    const maxSeconds = opt(f.maxSeconds)
    const settings = defined<RunSettings>({
      models: {
        _tag: "Files",
        mimi: models.mimi,
        lm: models.lm,
        tokenizer: models.tokenizer,
        mimiConfig: models.mimiConfig,
        lmConfig: models.lmConfig,
      },
      device: "cpu",
      codecDevice: "cpu",
      graphCapture: false,
      quantization: "none",
      context: undefined,
      engine: "auto",
      cacheDir: path.join(cacheDir, "converted"),
      threads: 1,
      // The thinking clip's speaker doubles as the agent's voice prompt.
      voice: assets.thinkingWav,
      windowFrames: secondsToFrames(f.windowSeconds),
      initialPrompt: DEFAULT_PROMPT,
      thinkingClip: assets.thinkingWav,
      wordBudget: 60,
      pace: "fast",
      // Fixed windows: the smoke LM's text is noise that never pads, so a pause of both sides never comes.
      switchPolicy: { mode: "fixed" },
      vad: "silero",
      sampling: { seed: f.seed },
      compactor,
      compactionDeadlineMs: 5000,
      maxInputFrames: maxSeconds === undefined ? undefined : secondsToFrames(maxSeconds),
    })
    const outDir = path.resolve(f.outDir)
    const input = path.resolve(opt(f.input) ?? assets.helloWav)
    yield* userFacing(
      runFromSettings({
        settings,
        input: { _tag: "File", path: input },
        output: { _tag: "File", path: path.join(outDir, "out.wav") },
        reportPath: path.join(outDir, "report.json"),
        meta: {
          demo: true,
          smokeModels: models.dir,
          note: "smoke models: random weights, tiny architecture",
        },
        write: writeOut,
        live: isTerminal(),
      }),
    )
  }),
).pipe(Command.withDescription("Run the whole loop on small generated smoke models (no download needed)"))
