#!/usr/bin/env node
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Effect, type Layer } from "effect"
import { EchoEngine } from "./server/echo-engine.ts"
import type { ConversationEngine } from "./server/engine.ts"
import { serve } from "./server/server.ts"
import { missingTinyModels, modelLoopEngine, tinyModelPaths } from "./server/tiny-models.ts"

const usage = `personaplex-web: talk to PersonaPlex in a browser (http://127.0.0.1:8998/ by default)

  --port N              listen port (default 8998; 0 = any free port)
  --host H              listen address (default 127.0.0.1)
  --voices DIR          folder of allowed voices (.safetensors voice prompts or .wav files)
  --voice NAME          default voice when the client names none
  --max-sessions N      concurrent conversations (default 1); more are answered "busy"
  --window-frames N     frames (80 ms) per conversation window (default 125 = 10 s)
  --engine E            tiny  : the real loop on the tiny random-weight models (default when present)
                        models: the real loop on --mimi/--mimi-config/--lm/--lm-config/--tokenizer
                        echo  : no model; echoes your audio and speaks its prompt's words
  --mimi, --mimi-config, --lm, --lm-config, --tokenizer   model files for --engine models
  --thinking-clip WAV   the clip played between windows (default: audio-io's "Hmm, let me think")
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
const engineName = values.engine ?? (missingTinyModels().length === 0 ? "tiny" : "echo")
const thinkingClip = values["thinking-clip"] === undefined ? {} : { thinkingClip: values["thinking-clip"] }
const engines: Record<string, () => Layer.Layer<ConversationEngine, unknown>> = {
  echo: () => EchoEngine.layer({ windowFrames }),
  tiny: () => modelLoopEngine({ windowFrames, paths: tinyModelPaths(), ...thinkingClip }),
  models: () =>
    modelLoopEngine({
      windowFrames,
      ...thinkingClip,
      paths: {
        ...(values.mimi === undefined ? {} : { mimi: values.mimi }),
        ...(values["mimi-config"] === undefined ? {} : { mimiConfig: values["mimi-config"] }),
        ...(values.lm === undefined ? {} : { lm: values.lm }),
        ...(values["lm-config"] === undefined ? {} : { lmConfig: values["lm-config"] }),
        ...(values.tokenizer === undefined ? {} : { tokenizer: values.tokenizer }),
      },
    }),
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
    staticDir: fileURLToPath(new URL("./public", import.meta.url)),
    ...(values.voices === undefined ? {} : { voicesDir: values.voices }),
    ...(values.voice === undefined ? {} : { defaultVoice: values.voice }),
  })
  yield* Effect.log(`PersonaPlex web: ${server.url}/ (engine: ${engineName}, window: ${windowFrames} frames)`)
  return yield* Effect.never
})

// The engine layer wraps the whole never-ending program, so its models live as long as the server.
Effect.runFork(Effect.scoped(program).pipe(Effect.provide(makeEngine()), Effect.tapCause(Effect.logError)))
