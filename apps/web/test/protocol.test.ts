import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Metric } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { WebMetrics } from "../src/server/metrics.ts"
import { CloseCode, encodeAudio } from "../src/shared/protocol.ts"
import { Client, makeVoicesDir, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
const start = async (...args: Parameters<typeof startServer>) => {
  const server = await startServer(...args)
  servers.push(server)
  return server
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const noLeaks = (server: RunningServer) =>
  waitFor("every session resource to be released", async () => {
    const c = await server.countsNow()
    return c.sessions === 0 && c.engineSessions === 0 && c.opusWriters === 0
  })

describe("a conversation over the upstream protocol", () => {
  it("sends the handshake byte, then Ogg/Opus audio and text pieces for the user's audio", async () => {
    const { dir } = makeVoicesDir()
    const server = await start(EchoEngine.layer({ windowFrames: 10, thinkingFrames: 2 }), { voicesDir: dir })
    const client = Client.connect(server, {
      voice_prompt: "NATF0.pt",
      text_prompt: "You like apples and pears.",
    })
    await client.handshake
    await client.sendFrames(tone(30))
    await waitFor("agent audio", () => client.received.length >= 20)
    expect(client.audioMessages).toBeGreaterThan(20)
    expect(client.rms()).toBeGreaterThan(0.05)
    expect(client.text.join("")).toContain("apples")
    expect(client.errors).toEqual([])
    // the upstream client gets no JSON events unless it asks
    expect(client.events).toEqual([])
    await client.close()
    await noLeaks(server)
  })

  it("sends the handshake only after prompting, and drops audio sent before it", async () => {
    const server = await start(EchoEngine.layer({ promptDelayMs: 400 }))
    const client = Client.connect(server, { text_prompt: "hello", events: "json" })
    await client.opened
    await client.sendFrames(tone(5))
    await client.handshake
    expect(client.handshakeAt! - client.startedAt).toBeGreaterThanOrEqual(390)
    await new Promise((r) => setTimeout(r, 200))
    expect(client.events.filter((e) => e.type === "hello")).toHaveLength(1)
    expect(client.received).toHaveLength(0)
    await client.close()
  })

  it("reports windows, compactions, the prompt and stats on the opt-in JSON event channel", async () => {
    const server = await start(EchoEngine.layer({ windowFrames: 8, thinkingFrames: 3 }))
    const client = Client.connect(server, { text_prompt: "You sell bicycles.", events: "json" })
    await client.handshake
    await client.sendFrames(tone(40))
    await waitFor("two compactions", () => client.events.filter((e) => e.type === "compaction").length >= 2)
    await waitFor("a stats event", () => client.events.some((e) => e.type === "stats"), 3000)
    const types = client.events.map((e) => e.type)
    expect(types[0]).toBe("hello")
    const prompts = client.events.flatMap((e) => (e.type === "prompt" ? [e] : []))
    expect(prompts[0]).toMatchObject({
      prompt: "<system> You sell bicycles. <system>",
      source: "initial",
      windowIndex: 0,
    })
    expect(prompts[1]?.windowIndex).toBe(1)
    const compaction = client.events.find((e) => e.type === "compaction")
    expect(compaction).toMatchObject({ index: 0, pauseMs: 240 })
    const windows = client.events.flatMap((e) => (e.type === "window" ? [`${e.phase}${e.index}`] : []))
    expect(windows.slice(0, 4)).toEqual(["start0", "end0", "start1", "end1"])
    const stats = client.events.find((e) => e.type === "stats")
    expect(stats).toMatchObject({ type: "stats", droppedFrames: 0 })
    await client.close()
  })
})

describe("malformed messages", () => {
  it("ignores an empty message, an unknown kind, a text frame and garbage Ogg, and the session goes on", async () => {
    const server = await start(EchoEngine.layer())
    const client = Client.connect(server, { text_prompt: "still here", events: "json" })
    await client.handshake
    client.sendRaw(new Uint8Array(0))
    client.sendRaw(Uint8Array.of(0x09, 1, 2, 3))
    client.sendRaw("a text frame")
    const garbage = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)
    client.sendRaw(encodeAudio(garbage))
    client.sendRaw(encodeAudio(new TextEncoder().encode("OggS but not really a page")))
    client.sendRaw(Uint8Array.of(0x03, 0x00)) // control: accepted and ignored
    await client.sendFrames(tone(12))
    await waitFor("agent audio after the bad messages", () => client.received.length >= 5)
    const warnings = client.events.flatMap((e) => (e.type === "warning" ? [e.message] : []))
    expect(warnings).toEqual(
      expect.arrayContaining([
        "ignored empty message (no kind byte)",
        "ignored unknown message kind 0x09",
        "ignored a text frame: the protocol uses binary messages",
        "skipped 3000 bytes that are not Ogg pages",
        `skipped ${"OggS but not really a page".length} bytes that are not Ogg pages`,
      ]),
    )
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    expect(client.errors).toEqual([])
    // the server still serves the next client
    await client.close()
    const other = Client.connect(server, { text_prompt: "next" })
    await other.handshake
    await other.close()
    await noLeaks(server)
  })

  it("survives a client that sends only garbage and leaves", async () => {
    const server = await start(EchoEngine.layer())
    const client = Client.connect(server, { text_prompt: "x" })
    await client.handshake
    for (let i = 0; i < 20; i++) {
      client.sendRaw(encodeAudio(Uint8Array.from({ length: 500 }, (_, j) => (j * 31 + i) % 256)))
    }
    client.ws.terminate()
    await client.closed
    await noLeaks(server)
    const res = await fetch(`${server.url}/api/health`)
    expect(res.status).toBe(200)
  })
})

describe("session lifecycle", () => {
  it("cleans up a client that disconnects mid-window: no session, engine session or Opus writer is left", async () => {
    const server = await start(EchoEngine.layer({ windowFrames: 100, frameDelayMs: 5 }), { maxSessions: 3 })
    const clients = [0, 1, 2].map((i) => Client.connect(server, { text_prompt: `client ${i}` }))
    await Promise.all(clients.map((c) => c.handshake))
    await Promise.all(clients.map((c) => c.sendFrames(tone(20))))
    await waitFor("audio for all three", () => clients.every((c) => c.received.length >= 2))
    expect(await server.countsNow()).toEqual({ sessions: 3, engineSessions: 3, opusWriters: 3 })
    clients[0]!.ws.terminate()
    clients[1]!.ws.close()
    await waitFor("two sessions released", async () => (await server.countsNow()).sessions === 1)
    await waitFor("two engine sessions released", async () => (await server.countsNow()).engineSessions === 1)
    expect((await server.countsNow()).opusWriters).toBe(1)
    await clients[2]!.close()
    await noLeaks(server)
  })

  it("cleans up a client that leaves while the model is being prompted", async () => {
    const server = await start(EchoEngine.layer({ promptDelayMs: 60_000 }))
    const client = Client.connect(server, { text_prompt: "slow prompt" })
    await client.opened
    await waitFor(
      "the session to start prompting",
      async () => (await server.countsNow()).engineSessions === 1,
    )
    client.ws.terminate()
    await client.closed
    expect(client.handshakeAt).toBeUndefined()
    // released at once (waitFor gives up after 10 s), not after the minute of prompting
    await noLeaks(server)
  })

  it("keeps each session's prompt to itself when two run at once", async () => {
    const server = await start(EchoEngine.layer({ framesPerWord: 1 }), { maxSessions: 2 })
    const a = Client.connect(server, { text_prompt: "alpha apricot avocado", events: "json" })
    const b = Client.connect(server, { text_prompt: "bravo banana blueberry", events: "json" })
    await Promise.all([a.handshake, b.handshake])
    await Promise.all([a.sendFrames(tone(15)), b.sendFrames(tone(15, 330))])
    await waitFor("text for both", () => a.text.length >= 6 && b.text.length >= 6)
    const words = (c: Client) => new Set(c.text.join("").trim().split(/\s+/))
    expect([...words(a)].sort()).toEqual(["alpha", "apricot", "avocado"])
    expect([...words(b)].sort()).toEqual(["banana", "blueberry", "bravo"])
    const promptOf = (c: Client) => c.events.find((e) => e.type === "prompt")
    expect(promptOf(a)).toMatchObject({ prompt: "<system> alpha apricot avocado <system>" })
    expect(promptOf(b)).toMatchObject({ prompt: "<system> bravo banana blueberry <system>" })
    await Promise.all([a.close(), b.close()])
  })

  it("answers busy (error message, then close code 1013) when every slot is taken and no one may wait, and frees the slot on leave", async () => {
    const busyRefusals = Metric.withAttributes(WebMetrics.refusals, { reason: "busy" })
    const before = (await Effect.runPromise(Metric.value(busyRefusals))).count
    const server = await start(EchoEngine.layer(), { maxSessions: 1, maxWaiting: 0 })
    const first = Client.connect(server, { text_prompt: "first" })
    await first.handshake
    const second = Client.connect(server, { text_prompt: "second" })
    await second.closed
    expect(second.handshakeAt).toBeUndefined()
    expect(second.errors).toEqual(["busy: all 1 conversation slot(s) are in use, try again later"])
    expect(second.closeCode).toBe(CloseCode.TryAgainLater)
    expect(second.closeReason).toMatch(/^busy/)
    expect((await Effect.runPromise(Metric.value(busyRefusals))).count).toBe(before + 1)
    await first.close()
    await waitFor("the slot to be free", async () => (await server.countsNow()).sessions === 0)
    const third = Client.connect(server, { text_prompt: "third" })
    await third.handshake
    await third.close()
  })
})

describe("voice selection", () => {
  it("accepts only names from the voices folder; paths are refused with a clear error and close code 1008", async () => {
    const { dir, secret } = makeVoicesDir()
    const server = await start(EchoEngine.layer(), { voicesDir: dir, maxSessions: 4 })
    const refused = async (voice: string) => {
      const client = Client.connect(server, { voice_prompt: voice, text_prompt: "hi" })
      await client.closed
      expect(client.handshakeAt).toBeUndefined()
      expect(client.closeCode).toBe(CloseCode.PolicyViolation)
      return client.errors[0] ?? ""
    }
    for (const voice of [
      "../secret.pt",
      secret,
      "/etc/passwd",
      "..",
      "a/NATF0.pt",
      "..\\secret.pt",
      ".hidden.pt",
    ]) {
      expect(await refused(voice)).toContain("is not a voice name")
    }
    expect(await refused("nope.pt")).toBe(
      'voice_prompt "nope.pt" is not a known voice; known voices: NATF0.pt, VARM1.wav',
    )
    // a file in the folder that is not a voice is not on the list either
    expect(await refused("notes.txt")).toContain("is not a known voice")
    const ok = Client.connect(server, { voice_prompt: "VARM1.wav", text_prompt: "hi" })
    await ok.handshake
    await ok.close()
    const voices = (await (await fetch(`${server.url}/api/voices`)).json()) as { voices: string[] }
    expect(voices.voices).toEqual(["NATF0.pt", "VARM1.wav"])
    await noLeaks(server)
  })

  it("refuses an overlong text prompt", async () => {
    const server = await start(EchoEngine.layer(), { maxPromptLength: 50 })
    const client = Client.connect(server, { text_prompt: "x".repeat(51) })
    await client.closed
    expect(client.errors[0]).toBe("text_prompt has 51 characters; the limit is 50")
    expect(client.closeCode).toBe(CloseCode.PolicyViolation)
  })
})

describe("http", () => {
  it("serves the page's files and never a file outside its folder", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "pp-static-"))
    fs.mkdirSync(path.join(root, "public"))
    fs.writeFileSync(path.join(root, "public", "index.html"), "<h1>page</h1>")
    fs.writeFileSync(path.join(root, "outside.txt"), "secret")
    const server = await start(EchoEngine.layer(), { staticDir: path.join(root, "public") })
    expect(await (await fetch(`${server.url}/`)).text()).toBe("<h1>page</h1>")
    expect((await fetch(`${server.url}/%2e%2e/outside.txt`)).status).toBe(404)
    expect((await fetch(`${server.url}/..%2foutside.txt`)).status).toBe(404)
    const health = await (await fetch(`${server.url}/api/health`)).json()
    expect(health).toEqual({
      status: "ok",
      engine: "echo",
      device: "none",
      sessions: 0,
      maxSessions: 1,
      waiting: 0,
      maxWaiting: 16,
      waitTimeoutMs: 300_000,
      recentSessions: [],
    })
  })
})
