import * as path from "node:path"
import { assets, loadFrames } from "@personaplex/audio-io"
import { type CompactionInput, Compactor } from "@personaplex/compaction"
import { resolveModelFiles } from "@personaplex/stack"
import { writeTinyMoonshine } from "@personaplex/transcriber"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { parseServerArgs } from "../src/server/main.ts"
import { settingsFromConfig, settingsLoopEngine } from "../src/server/model-engines.ts"
import { Client, type RunningServer, smokeRunConfig, startServer, waitFor } from "./helpers.ts"

const recordingCompactor = (inputs: Array<CompactionInput>) =>
  Layer.succeed(
    Compactor,
    Compactor.of({
      compact: (input) =>
        Effect.sync(() => {
          inputs.push(input)
          return { prompt: `<system> ${input.basePersona} <system>`, source: "model" as const, durationMs: 0 }
        }),
    }),
  )

describe("the web server's listeners come from the run configuration", () => {
  let server: RunningServer | undefined
  afterAll(async () => {
    await server?.close()
  })

  it("switch: pause and a transcriber in the config: the user's words reach the compactor", async () => {
    const { dir, file } = await smokeRunConfig("pp-web-listeners-", [
      "runtime: { device: cpu, threads: 1 }",
      "conversation: { window_frames: 12, switch: pause, vad: energy, clip_min_ms: 160 }",
      "transcriber: { model: moonshine }",
    ])
    writeTinyMoonshine(path.join(dir, "moonshine"))
    const args = await Effect.runPromise(parseServerArgs(["--config", file]))
    if (args === "help") throw new Error("help")
    const settings = await Effect.runPromise(settingsFromConfig(args.config, args.overrides))
    expect(settings.transcriber).toBeDefined()
    expect(settings.switchPolicy.mode).toBe("pause")
    const files = await Effect.runPromise(resolveModelFiles(settings.models))
    const inputs: Array<CompactionInput> = []
    server = await startServer(settingsLoopEngine(settings, files, { compactor: recordingCompactor(inputs) }))

    const hello = await Effect.runPromise(loadFrames(assets.helloWav))
    const client = Client.connect(server, { text_prompt: "You repair old clocks.", events: "json" })
    await client.handshake
    // The user says hello, then is quiet (an 80 ms frame every 80 ms) until the test has seen enough.
    let speaking = true
    const microphone = (async () => {
      for (let i = 0; speaking; i++) {
        await client.sendFrames([hello[i] ?? new Float32Array(1920)])
        await new Promise((r) => setTimeout(r, 80))
      }
    })()
    const userTurns = () =>
      inputs.flatMap((input) =>
        input.history.flatMap((w) => (w.turns ?? []).filter((t) => t.speaker === "user")),
      )
    await waitFor("a compaction whose input holds the user's words", () => userTurns().length > 0, 90_000)
    speaking = false
    await microphone
    expect(client.errors).toEqual([])
    for (const turn of userTurns()) expect(turn.text.trim().length).toBeGreaterThan(0)
    const heard = inputs.find((input) => input.history.some((w) => (w.userText ?? "").length > 0))!
    // Both speakers, in order, in the window the user spoke in.
    const window = heard.history.find((w) => (w.userText ?? "").length > 0)!
    expect(window.turns!.map((t) => t.speaker)).toContain("user")
    await client.close()
    await waitFor(
      "the session to be released",
      async () => (await server!.countsNow()).engineSessions === 0,
      20_000,
    )
  }, 120_000)
})
