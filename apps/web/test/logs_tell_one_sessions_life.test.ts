import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import { afterEach, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { logEvent, loggerLayer } from "../src/server/logging.ts"
import { smokeLoopEngine } from "../src/server/model-engines.ts"
import { Client, captureLogs, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

describe("the server's log", () => {
  it("has one line per event of a session's life, each with the session id", async () => {
    const logs = captureLogs()
    const server = await startServer(EchoEngine.layer({ windowFrames: 6, thinkingFrames: 2 }), {}, logs.layer)
    servers.push(server)
    const client = Client.connect(server, { text_prompt: "You log everything.", events: "json" })
    await client.handshake
    client.sendRaw(Uint8Array.of(0x09))
    await client.sendFrames(tone(20))
    await waitFor("a compaction", () => client.events.some((e) => e.type === "compaction"))
    await client.close()
    await waitFor("the close line", () => logs.lines.some((l) => l.annotations.event === "close"))

    const session = logs.lines.filter((l) => l.annotations.session === "s1")
    const events = session.map((l) => l.annotations.event)
    // in this order; window and compaction lines repeat as the conversation goes on
    expect(events[0]).toBe("connect")
    expect(events[1]).toBe("handshake")
    expect(events.at(-1)).toBe("close")
    expect(events.indexOf("window")).toBeGreaterThan(1)
    expect(events.indexOf("compaction")).toBeGreaterThan(events.indexOf("window"))
    expect(events).toContain("warning")

    const line = (event: string) => session.find((l) => l.annotations.event === event)!
    expect(line("connect")).toMatchObject({
      level: "INFO",
      annotations: { voice: "", promptChars: "You log everything.".length },
    })
    expect(line("connect").annotations.address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(line("connect").message).toMatch(
      /^connect from 127\.0\.0\.1:\d+: voice \(none\), text prompt of 19 characters$/,
    )
    expect(line("handshake").message).toMatch(/^handshake after \d+ ms of prompting$/)
    expect(typeof line("handshake").annotations.promptMs).toBe("number")
    expect(line("window")).toMatchObject({
      message: "window 0 starts",
      annotations: { window: 0, phase: "start" },
    })
    expect(session.find((l) => l.annotations.phase === "end")?.message).toMatch(
      /^window 0 ends \(\d+ characters/,
    )
    expect(line("compaction").message).toMatch(
      /^switch after window 0: 160 ms pause, prompt from fallback in 160 ms$/,
    )
    expect(line("warning")).toMatchObject({ level: "WARN", message: "ignored unknown message kind 0x09" })
    const close = line("close")
    expect(close.annotations).toMatchObject({ code: 1005, by: "client" })
    expect(close.annotations.framesIn).toBeGreaterThanOrEqual(8)
    expect(close.annotations.framesOut).toBeGreaterThan(0)
    expect(close.annotations.durationMs).toBeGreaterThan(0)
    expect(close.annotations).toMatchObject({ lateFrames: 0, droppedFrames: 0 })
    expect(close.message).toMatch(
      /^closed by the client: code 1005, after \d+\.\d s, \d+ frames in, \d+ out, 0 late \(compute > 80 ms\), 0 dropped; frame p50 \d+(\.\d)? ms, p95 \d+(\.\d)? ms, max \d+(\.\d)? ms$/,
    )
  })

  it("logs a waiting client's place, a refusal, and an engine failure with its cause", async () => {
    const logs = captureLogs()
    const voices = fs.mkdtempSync(path.join(os.tmpdir(), "pp-log-voices-"))
    fs.writeFileSync(path.join(voices, "broken.pt"), "not a torch archive")
    const server = await startServer(
      smokeLoopEngine({ windowFrames: 12 }),
      { maxSessions: 1, voicesDir: voices, waitTimeoutMs: 400 },
      logs.layer,
    )
    servers.push(server)
    const first = Client.connect(server, { text_prompt: "first" })
    await first.handshake
    const waiting = Client.connect(server, { text_prompt: "second" })
    await waiting.closed
    const unknown = Client.connect(server, { voice_prompt: "nope.pt" })
    await unknown.closed
    await first.close()
    await waitFor("the first session to end", () => logs.lines.some((l) => l.annotations.event === "close"))
    const broken = Client.connect(server, { voice_prompt: "broken.pt", text_prompt: "x" })
    await broken.closed
    await waitFor("the engine error line", () =>
      logs.lines.some((l) => l.annotations.event === "engine-error"),
    )

    const of = (session: string) => logs.lines.filter((l) => l.annotations.session === session)
    expect(of("s2").map((l) => l.annotations.event)).toEqual(["connect", "queued", "refused"])
    expect(of("s2")[1]).toMatchObject({ message: "waiting for a conversation slot: place 1 in line" })
    expect(of("s2")[2]).toMatchObject({ level: "WARN", annotations: { code: 1013, reason: "busy" } })
    expect(of("s3").map((l) => [l.level, l.annotations.event])).toEqual([
      ["INFO", "connect"],
      ["WARN", "refused"],
    ])
    expect(of("s3")[1]!.message).toMatch(
      /^refused \(close 1008\): voice_prompt "nope\.pt" is not a known voice/,
    )
    const failure = of("s4").find((l) => l.annotations.event === "engine-error")!
    expect(failure.level).toBe("ERROR")
    expect(failure.message).toMatch(/^engine failed: cannot load voice broken\.pt/)
    expect(String(failure.annotations.cause)).toMatch(/broken\.pt/)
    expect(of("s4").at(-1)).toMatchObject({ annotations: { event: "close", code: 1011, by: "server" } })
  })

  it("prints one line per event: pretty for people, JSON for machines", async () => {
    const lines = (format: "pretty" | "json") =>
      Effect.runPromise(
        Effect.gen(function* () {
          yield* logEvent("Info", "connect", "connect from 10.0.0.2:5000", { address: "10.0.0.2:5000" }).pipe(
            Effect.annotateLogs({ session: "s7" }),
          )
          yield* logEvent("Debug", "warning", "below the level")
          return yield* TestConsole.logLines
        }).pipe(Effect.provide(loggerLayer(format, "Info")), Effect.provide(TestConsole.layer)),
      )
    const pretty = await lines("pretty")
    expect(pretty).toHaveLength(1)
    expect(String(pretty[0])).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO {2}s7 connect: connect from 10\.0\.0\.2:5000$/,
    )
    const json = await lines("json")
    expect(json).toHaveLength(1)
    expect(JSON.parse(String(json[0]))).toMatchObject({
      message: "connect from 10.0.0.2:5000",
      level: "INFO",
      annotations: { session: "s7", event: "connect", address: "10.0.0.2:5000" },
    })
  })
})
