#!/usr/bin/env node
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Effect, type Layer } from "effect"
import { EchoEngine } from "./server/echo-engine.ts"
import type { ConversationEngine } from "./server/engine.ts"
import { modelLoopEngine, smokeLoopEngine } from "./server/model-engines.ts"
import { serve } from "./server/server.ts"

const usage = `personaplex-web: talk to PersonaPlex in a browser (http://127.0.0.1:8998/ by default)

  --port N              listen port (default 8998; 0 = any free port)
  --host H              listen address (default 127.0.0.1)
  --voices DIR          folder of allowed voices: release .pt voices, .safetensors voice caches, .wav files
  --voice NAME          default voice when the client names none
  --max-sessions N      concurrent conversations (default 1); more are answered "busy"
  --window-frames N     frames (80 ms) per conversation window (default 125 = 10 s)
  --engine E            smoke : the real loop on the smoke models of \`personaplex demo\` (random weights
                                of the tiny architectures, generated once; default)
                        models: the real loop on --mimi/--lm/--tokenizer (+ --mimi-config/--lm-config
                                for non-PersonaPlex sizes, upstream JSON layout)
                        echo  : no model; echoes your audio and speaks its prompt's words
  --mimi, --mimi-config, --lm, --lm-config, --tokenizer   model files for --engine models
  --smoke-cache DIR     where the smoke models are generated (default: the temp folder)
  --thinking-clip WAV   the clip played between windows (default: audio-io's "Hmm, let me think")
  --static DIR          serve this folder at / instead of our page (e.g. a build of upstream's client)
`

// `pnpm start -- --port 9000` passes the "--" through
const argv = process.argv.slice(2)
const args = argv[0] === "--" ? argv.slice(1) : argv

const parse = () =>
  parseArgs({
    args,
    options: {
      port: { type: "string", default: "8998" },
      host: { type: "string", default: "127.0.0.1" },
      voices: { type: "string" },
      voice: { type: "string" },
      "max-sessions": { type: "string", default: "1" },
      engine: { type: "string" },
      "window-frames": { type: "string", default: "125" },
      mimi: { type: "string" },
      "mimi-config": { type: "string" },
      lm: { type: "string" },
      "lm-config": { type: "string" },
      tokenizer: { type: "string" },
      "thinking-clip": { type: "string" },
      "smoke-cache": { type: "string" },
      static: { type: "string" },
      help: { type: "boolean", default: false },
    },
  })
let values: ReturnType<typeof parse>["values"]
try {
  values = parse().values
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`)
  process.exit(2)
}
if (values.help) {
  console.log(usage)
  process.exit(0)
}

const windowFrames = Number(values["window-frames"])
const engineName = values.engine ?? "smoke"
const thinkingClip = values["thinking-clip"] === undefined ? {} : { thinkingClip: values["thinking-clip"] }
const required = (name: "mimi" | "lm" | "tokenizer"): string => {
  const value = values[name]
  if (value === undefined) {
    console.error(`--engine models needs --${name}\n\n${usage}`)
    process.exit(2)
  }
  return value
}
const engines: Record<string, () => Layer.Layer<ConversationEngine, unknown>> = {
  echo: () => EchoEngine.layer({ windowFrames }),
  smoke: () =>
    smokeLoopEngine({
      windowFrames,
      ...thinkingClip,
      ...(values["smoke-cache"] === undefined ? {} : { cacheDir: values["smoke-cache"] }),
    }),
  models: () =>
    modelLoopEngine(
      {
        mimi: required("mimi"),
        lm: required("lm"),
        tokenizer: required("tokenizer"),
        ...(values["mimi-config"] === undefined ? {} : { mimiConfig: values["mimi-config"] }),
        ...(values["lm-config"] === undefined ? {} : { lmConfig: values["lm-config"] }),
      },
      { windowFrames, ...thinkingClip },
    ),
}
const makeEngine = engines[engineName]
if (makeEngine === undefined) {
  console.error(`unknown --engine ${engineName}; use one of: ${Object.keys(engines).join(", ")}`)
  process.exit(2)
}

const program = Effect.gen(function* () {
  const server = yield* serve({
    port: Number(values.port),
    host: values.host,
    maxSessions: Number(values["max-sessions"]),
    staticDir: values.static ?? fileURLToPath(new URL("./public", import.meta.url)),
    ...(values.voices === undefined ? {} : { voicesDir: values.voices }),
    ...(values.voice === undefined ? {} : { defaultVoice: values.voice }),
  })
  yield* Effect.log(`PersonaPlex web: ${server.url}/ (engine: ${engineName}, window: ${windowFrames} frames)`)
  return yield* Effect.never
})

// The engine layer wraps the whole never-ending program, so its models live as long as the server.
Effect.runFork(Effect.scoped(program).pipe(Effect.provide(makeEngine()), Effect.tapCause(Effect.logError)))
