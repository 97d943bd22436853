import * as path from "node:path"
import { parseArgs } from "node:util"
import { BATCH_SIZES } from "@personaplex/lm"
import {
  type ConfigError,
  decodeRunConfig,
  ensureSmokeModels,
  loadRunConfig,
  type ModelFiles,
  type RunConfig,
  type RunSettings,
  resolveModelFiles,
} from "@personaplex/stack"
import { Data, Effect, Layer, type LogLevel } from "effect"
import { EchoEngine } from "./echo-engine.ts"
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, logEvent } from "./logging.ts"
import {
  batchedLoopEngine,
  defaultSmokeCache,
  settingsFromConfig,
  settingsLoopEngine,
  smokeConfig,
} from "./model-engines.ts"
import { releaseVoicesFolder } from "./release-voices.ts"
import { serve, type WebServer } from "./server.ts"
import { ensureSmokeVoices, UPSTREAM_DEFAULT_VOICE } from "./smoke-voices.ts"
import { loadTls, type TlsChoice } from "./tls.ts"
import { VoiceCatalog } from "./voices.ts"

export const usage = `personaplex-web: talk to PersonaPlex in a browser (http://127.0.0.1:8998/ by default)

listening
  --port N               listen port (default 8998; 0 = any free port)
  --host H               listen address (default 127.0.0.1; 0.0.0.0 for other machines, with TLS)
  --tls-cert F --tls-key F   serve https/wss with this certificate and key (PEM)
  --tls-self-signed      serve https/wss with a self-signed certificate made at start
  --ssl DIR              as upstream: DIR/cert.pem and DIR/key.pem, made (self-signed) when missing
  --static DIR           serve this folder at / instead of our page (e.g. a build of upstream's client)

conversations
  --max-sessions N       conversations at once (default 1, as upstream); above 1 they share one batched
                         LM step (at most 32), driven by one 80 ms frame clock
  --max-waiting N        clients that may wait in line for a slot (default 16; 0 = answer "busy" at once)
  --wait-timeout S       seconds a client may wait for a slot before it is answered "busy" (default 300)
  --voices DIR           the allowed voices: .pt, .safetensors and .wav files in DIR (default: the release's
                         voices for real models, smoke voices under upstream's 18 names for the smoke engine)
  --voice NAME           the voice of clients that name none (default NATF0.pt when there is one)
  --window-frames N      80 ms frames per conversation window (default 125 = 10 s)
  --thinking-clip WAV    the clip played between windows

engine
  --engine E             models: the real loop on the settings of \`personaplex run\` (the default when
                                 --config or a model flag is given)
                         smoke : the real loop on the random-weight smoke models of \`personaplex demo\`
                                 (generated once into --smoke-cache; the default otherwise)
                         echo  : no model; echoes your audio and speaks its prompt's words (UI work)
  --config FILE          a \`personaplex run\` configuration (YAML): model, runtime, sampling, compactor
  --device D             cpu | webgpu                 (runtime.device)
  --quantization Q       weight-only LM quantization  (runtime.quantization)
  --context N            attention window in frames   (runtime.context_window)
  --threads N            CPU threads per session      (runtime.threads)
  --graph-capture, --no-graph-capture   replay captured GPU steps (runtime.graph_capture, webgpu)
  --model-dir DIR        a folder with the release files (model.dir)
  --hf-repo REPO         a Hugging Face repo to download from (model.hf_repo)
  --mimi F --lm F --tokenizer F [--mimi-config J --lm-config J]   model files (model.*)
  --smoke-cache DIR      where the smoke models and voices are made (default: the temp folder)

logs
  --log-format F         pretty | json (default pretty)
  --log-level L          trace | debug | info | warn | error (default info)
`

/** The command line cannot be used. */
export class ServerArgsError extends Data.TaggedError("ServerArgsError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message() {
    return this.problems.join("\n")
  }
}

export type EngineName = "models" | "smoke" | "echo"

/** Everything the server is started with, checked. */
export interface ServerArgs {
  readonly port: number
  readonly host: string
  readonly voicesDir?: string
  readonly voice?: string
  readonly maxSessions: number
  readonly maxWaiting: number
  readonly waitTimeoutMs: number
  readonly engine: EngineName
  /** The run configuration: the `--config` file with the engine flags on top. */
  readonly config: RunConfig
  readonly overrides: { readonly device?: "cpu" | "webgpu"; readonly graphCapture?: boolean }
  /** Window frames of the echo engine. */
  readonly windowFrames: number
  readonly smokeCache: string
  readonly staticDir?: string
  readonly tls?: TlsChoice
  readonly logFormat: LogFormat
  readonly logLevel: LogLevel.LogLevel
}

const options = {
  port: { type: "string" },
  host: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-self-signed": { type: "boolean" },
  ssl: { type: "string" },
  static: { type: "string" },
  "max-sessions": { type: "string" },
  "max-waiting": { type: "string" },
  "wait-timeout": { type: "string" },
  voices: { type: "string" },
  voice: { type: "string" },
  "window-frames": { type: "string" },
  "thinking-clip": { type: "string" },
  engine: { type: "string" },
  config: { type: "string" },
  device: { type: "string" },
  quantization: { type: "string" },
  context: { type: "string" },
  threads: { type: "string" },
  "graph-capture": { type: "boolean" },
  "no-graph-capture": { type: "boolean" },
  "model-dir": { type: "string" },
  "hf-repo": { type: "string" },
  mimi: { type: "string" },
  lm: { type: "string" },
  tokenizer: { type: "string" },
  "mimi-config": { type: "string" },
  "lm-config": { type: "string" },
  "smoke-cache": { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean" },
} as const

/** Which flag sets each config field, for error messages. */
const FLAG_OF: Record<string, string> = {
  "runtime.device": "--device",
  "runtime.quantization": "--quantization",
  "runtime.context_window": "--context",
  "runtime.threads": "--threads",
  "conversation.window_frames": "--window-frames",
  "conversation.thinking_clip": "--thinking-clip",
  "model.dir": "--model-dir",
  "model.hf_repo": "--hf-repo",
  "model.mimi": "--mimi",
  "model.lm": "--lm",
  "model.tokenizer": "--tokenizer",
  "model.mimi_config": "--mimi-config",
  "model.lm_config": "--lm-config",
}

const MODEL_FLAGS = ["model-dir", "hf-repo", "mimi", "lm", "tokenizer", "mimi-config", "lm-config"] as const

/** The most conversations one batched LM step holds (`LmBatch`'s largest graph). */
const MAX_BATCH = BATCH_SIZES[BATCH_SIZES.length - 1]!

/** A number when it reads as one, else the text (so the schema's error shows what was given). */
const numeric = (text: string): number | string => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text)

const defined = <T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>
  }

/** Parses and checks the command line (reading `--config`); every problem is reported, each naming its flag. */
export const parseServerArgs = (
  argv: ReadonlyArray<string>,
): Effect.Effect<ServerArgs | "help", ServerArgsError | ConfigError> =>
  Effect.gen(function* () {
    // `pnpm start -- --port 9000` passes the "--" through
    const args = argv[0] === "--" ? argv.slice(1) : [...argv]
    const parsed = yield* Effect.try({
      try: () => parseArgs({ args, options, allowPositionals: false, strict: true }).values,
      catch: (error) => new ServerArgsError({ problems: [(error as Error).message] }),
    })
    if (parsed.help) return "help" as const
    const problems: string[] = []
    const integer = (
      flag: keyof typeof parsed,
      fallback: number,
      min: number,
      max = Number.MAX_SAFE_INTEGER,
    ) => {
      const text = parsed[flag]
      if (text === undefined) return fallback
      const n = Number(text)
      if (typeof text !== "string" || !/^\d+$/.test(text.trim()) || n < min || n > max) {
        problems.push(
          `--${flag}: expected an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `between ${min} and ${max}`}, got ${JSON.stringify(text)}`,
        )
        return fallback
      }
      return n
    }
    const oneOf = <T extends string>(
      flag: keyof typeof parsed,
      values: ReadonlyArray<T>,
      fallback: NoInfer<T>,
    ): T => {
      const text = parsed[flag]
      if (text === undefined) return fallback
      const found = values.find((v) => v.toLowerCase() === String(text).toLowerCase())
      if (found === undefined)
        problems.push(`--${flag}: expected one of ${values.join(", ")}, got ${JSON.stringify(text)}`)
      return found ?? fallback
    }

    const port = integer("port", 8998, 0, 65535)
    const maxSessions = integer("max-sessions", 1, 1)
    const maxWaiting = integer("max-waiting", 16, 0)
    let waitTimeoutMs = 300_000
    const waitText = parsed["wait-timeout"]
    if (waitText !== undefined) {
      const seconds = Number(waitText)
      if (!(seconds > 0) || !Number.isFinite(seconds))
        problems.push(`--wait-timeout: expected a number of seconds > 0, got ${JSON.stringify(waitText)}`)
      else waitTimeoutMs = Math.round(seconds * 1000)
    }
    const logFormat = oneOf("log-format", LOG_FORMATS, "pretty")
    const logLevel = oneOf("log-level", LOG_LEVELS, "Info")

    const modelFlagGiven = MODEL_FLAGS.some((f) => parsed[f] !== undefined)
    const engineDefault: EngineName = parsed.config !== undefined || modelFlagGiven ? "models" : "smoke"
    const engine = oneOf("engine", ["models", "smoke", "echo"] as const, engineDefault)
    if (engine !== "echo" && maxSessions > MAX_BATCH)
      problems.push(
        `--max-sessions: expected an integer between 1 and ${MAX_BATCH} (the largest LM batch), got ${JSON.stringify(parsed["max-sessions"])}`,
      )
    if (engine === "echo" && (parsed.config !== undefined || modelFlagGiven))
      problems.push("--engine echo runs no model: drop --config and the model flags, or use --engine models")
    if (engine === "smoke" && modelFlagGiven)
      problems.push("--engine smoke runs the smoke models: drop the model flags, or use --engine models")
    if (parsed["graph-capture"] && parsed["no-graph-capture"])
      problems.push("--graph-capture and --no-graph-capture: give one of them")

    let tls: TlsChoice | undefined
    const tlsChoices = [
      parsed["tls-cert"] !== undefined || parsed["tls-key"] !== undefined
        ? "--tls-cert/--tls-key"
        : undefined,
      parsed["tls-self-signed"] ? "--tls-self-signed" : undefined,
      parsed.ssl !== undefined ? "--ssl" : undefined,
    ].filter((c) => c !== undefined)
    if (tlsChoices.length > 1)
      problems.push(`${tlsChoices.join(" and ")}: give one way to get the certificate`)
    else if (parsed["tls-cert"] !== undefined || parsed["tls-key"] !== undefined) {
      if (parsed["tls-cert"] === undefined || parsed["tls-key"] === undefined)
        problems.push("--tls-cert and --tls-key: give both (the certificate and its private key, PEM)")
      else
        tls = { _tag: "Files", cert: path.resolve(parsed["tls-cert"]), key: path.resolve(parsed["tls-key"]) }
    } else if (parsed["tls-self-signed"]) tls = { _tag: "SelfSigned" }
    else if (parsed.ssl !== undefined) tls = { _tag: "Folder", dir: path.resolve(parsed.ssl) }

    // The engine flags as a run configuration, checked by the CLI's own schema.
    const resolvePath = (p: string | undefined) => (p === undefined ? undefined : path.resolve(p))
    const runtime = defined({
      device: parsed.device,
      quantization: parsed.quantization,
      context_window: parsed.context === undefined ? undefined : numeric(parsed.context),
      threads: parsed.threads === undefined ? undefined : numeric(parsed.threads),
      graph_capture: parsed["graph-capture"] ? true : parsed["no-graph-capture"] ? false : undefined,
    })
    const model = defined({
      dir: resolvePath(parsed["model-dir"]),
      hf_repo: parsed["hf-repo"],
      mimi: resolvePath(parsed.mimi),
      lm: resolvePath(parsed.lm),
      tokenizer: resolvePath(parsed.tokenizer),
      mimi_config: resolvePath(parsed["mimi-config"]),
      lm_config: resolvePath(parsed["lm-config"]),
    })
    const conversation = defined({
      window_frames: parsed["window-frames"] === undefined ? undefined : numeric(parsed["window-frames"]),
      thinking_clip: resolvePath(parsed["thinking-clip"]),
    })
    const flagConfig = yield* decodeRunConfig(
      defined({
        runtime: Object.keys(runtime).length > 0 ? runtime : undefined,
        model: Object.keys(model).length > 0 ? model : undefined,
        conversation: Object.keys(conversation).length > 0 ? conversation : undefined,
      }),
      "command line",
    ).pipe(
      Effect.catch((error) =>
        Effect.succeed(
          error.issues.map((issue) => {
            const field = issue.slice(0, issue.indexOf(":"))
            const flag = FLAG_OF[field]
            return flag === undefined ? issue : `${flag}${issue.slice(field.length)}`
          }),
        ),
      ),
    )
    if (Array.isArray(flagConfig)) problems.push(...flagConfig)
    if (problems.length > 0) return yield* new ServerArgsError({ problems })
    const flags = flagConfig as RunConfig

    const file: RunConfig =
      parsed.config === undefined ? {} : yield* loadRunConfig(path.resolve(parsed.config))
    const fileConversation = file.conversation ?? {}
    // 10 s windows unless the file or the flags say otherwise (the CLI's default is 20 s)
    const windowDefault =
      fileConversation.duration === undefined && fileConversation.window_frames === undefined
        ? { window_frames: 125 }
        : {}
    const config: RunConfig = {
      ...file,
      ...(flags.model === undefined && file.model === undefined ? {} : { model: flags.model ?? file.model }),
      ...(flags.runtime === undefined && file.runtime === undefined
        ? {}
        : { runtime: { ...file.runtime, ...flags.runtime } }),
      conversation: { ...windowDefault, ...fileConversation, ...flags.conversation },
    }
    const echoFrames = flags.conversation?.window_frames ?? 25
    return {
      port,
      host: parsed.host ?? "127.0.0.1",
      ...(parsed.voices === undefined ? {} : { voicesDir: path.resolve(parsed.voices) }),
      ...(parsed.voice === undefined ? {} : { voice: parsed.voice }),
      maxSessions,
      maxWaiting,
      waitTimeoutMs,
      engine,
      config,
      overrides: defined({
        device: flags.runtime?.device,
        graphCapture: flags.runtime?.graph_capture,
      }),
      windowFrames: echoFrames,
      smokeCache: path.resolve(parsed["smoke-cache"] ?? defaultSmokeCache()),
      ...(parsed.static === undefined ? {} : { staticDir: path.resolve(parsed.static) }),
      ...(tls === undefined ? {} : { tls }),
      logFormat,
      logLevel,
    } satisfies ServerArgs
  })

export interface Started {
  readonly server: WebServer
  readonly engine: EngineName
  readonly voices: ReadonlyArray<string>
  readonly defaultVoice: string
  /** The certificate's SHA-256 fingerprint when serving TLS. */
  readonly fingerprint?: string
}

/**
 * Builds what the arguments ask for and starts the server in the caller's scope: the engine (the CLI's
 * settings → `modelLayer` per session, or the smoke models, or echo), the voices (`--voices`, else the
 * release's or the smoke ones), TLS, the waiting room. `defaultStaticDir` is our built page.
 */
/** One engine per conversation (`--max-sessions 1`, upstream's way), or all of them on one batched LM step. */
const loopEngine = (args: ServerArgs, settings: RunSettings, files: ModelFiles) =>
  args.maxSessions > 1
    ? batchedLoopEngine(settings, files, args.maxSessions)
    : settingsLoopEngine(settings, files)

/** The engine layer, its device and the built-in voices (none when `--voices` is given) for the arguments. */
const chooseEngine = (args: ServerArgs) => {
  switch (args.engine) {
    case "echo":
      return Effect.succeed({
        engine: EchoEngine.layer({ windowFrames: args.windowFrames }),
        device: "none",
        builtIn: undefined,
      })
    case "smoke":
      return Effect.gen(function* () {
        const smoke = yield* ensureSmokeModels(args.smokeCache)
        const settings = yield* settingsFromConfig(smokeConfig(smoke, args.config), args.overrides)
        const files = yield* resolveModelFiles(settings.models)
        const builtIn =
          args.voicesDir === undefined
            ? VoiceCatalog.of(yield* ensureSmokeVoices(args.smokeCache, settings, files))
            : undefined
        return { engine: loopEngine(args, settings, files), device: settings.device, builtIn }
      })
    case "models":
      return Effect.gen(function* () {
        const settings = yield* settingsFromConfig(args.config, args.overrides)
        yield* logEvent("Info", "listening", `resolving the model files (${settings.models._tag})`)
        const files = yield* resolveModelFiles(settings.models)
        let builtIn: VoiceCatalog | undefined
        if (args.voicesDir === undefined) {
          const folder = yield* releaseVoicesFolder(settings.models)
          if (folder === undefined)
            yield* logEvent(
              "Warn",
              "listening",
              "no voices: the release's voices do not fit models of another architecture; give --voices DIR",
            )
          builtIn = new VoiceCatalog(folder)
        }
        return { engine: loopEngine(args, settings, files), device: settings.device, builtIn }
      })
  }
}

/**
 * Builds what the arguments ask for and starts the server in the caller's scope: the engine (the CLI's
 * settings → `modelLayer` per session, or the smoke models, or echo), the voices (`--voices`, else the
 * release's or the smoke ones), TLS, the waiting room. `defaultStaticDir` is our built page.
 */
export const startServer = (args: ServerArgs, defaultStaticDir?: string) =>
  Effect.gen(function* () {
    const { engine, device, builtIn } = yield* chooseEngine(args)
    const catalog = builtIn ?? new VoiceCatalog(args.voicesDir)
    const names = (yield* catalog.list).map((v) => v.name)
    const defaultVoice = args.voice ?? (names.includes(UPSTREAM_DEFAULT_VOICE) ? UPSTREAM_DEFAULT_VOICE : "")
    const tls = args.tls === undefined ? undefined : yield* loadTls(args.tls, args.host)
    const context = yield* Layer.build(engine)
    const server = yield* serve({
      port: args.port,
      host: args.host,
      voices: catalog,
      defaultVoice,
      maxSessions: args.maxSessions,
      maxWaiting: args.maxWaiting,
      waitTimeoutMs: args.waitTimeoutMs,
      staticDir: args.staticDir ?? defaultStaticDir,
      ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
    }).pipe(Effect.provideContext(context))
    yield* logEvent(
      "Info",
      "listening",
      `PersonaPlex web: ${server.url}/ (engine ${args.engine} on ${device}, ${names.length} voices, default ${defaultVoice === "" ? "none" : defaultVoice}, ${args.maxSessions} conversation(s) at once, ${args.maxWaiting} may wait)`,
      {
        url: server.url,
        engine: args.engine,
        device,
        voices: names.length,
        maxSessions: args.maxSessions,
        maxWaiting: args.maxWaiting,
        ...(tls === undefined ? {} : { tlsFingerprint: tls.fingerprint }),
      },
    )
    return {
      server,
      engine: args.engine,
      voices: names,
      defaultVoice,
      ...(tls === undefined ? {} : { fingerprint: tls.fingerprint }),
    } satisfies Started
  })
