#!/usr/bin/env node
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Effect, Layer } from "effect"
import { EchoEngine } from "./server/echo-engine.ts"
import { serve } from "./server/server.ts"

const usage = `personaplex-web: talk to PersonaPlex in a browser

  --port N            listen port (default 8998; 0 = any free port)
  --host H            listen address (default 127.0.0.1)
  --voices DIR        folder of allowed voices (.pt, .safetensors, .wav)
  --voice NAME        default voice when the client names none
  --max-sessions N    concurrent conversations (default 1); more are answered "busy"
  --engine echo       the test engine (no model): echoes your audio, speaks its prompt's words
  --window-frames N   frames per conversation window (echo engine; default 25)
`

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8998" },
    host: { type: "string", default: "127.0.0.1" },
    voices: { type: "string" },
    voice: { type: "string" },
    "max-sessions": { type: "string", default: "1" },
    engine: { type: "string", default: "echo" },
    "window-frames": { type: "string", default: "25" },
    help: { type: "boolean", default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}

const engine = EchoEngine.layer({ windowFrames: Number(values["window-frames"]) })
const staticDir = fileURLToPath(new URL("./public", import.meta.url))

const program = Effect.gen(function* () {
  const server = yield* serve({
    port: Number(values.port),
    host: values.host,
    maxSessions: Number(values["max-sessions"]),
    staticDir,
    ...(values.voices !== undefined ? { voicesDir: values.voices } : {}),
    ...(values.voice !== undefined ? { defaultVoice: values.voice } : {}),
  })
  yield* Effect.log(`PersonaPlex web: ${server.url}/ (engine ${values.engine})`)
  return yield* Effect.never
})

Effect.runFork(Effect.scoped(program).pipe(Effect.provide(Layer.mergeAll(engine))))
