import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import { afterAll, describe, expect, it } from "vitest"
import { smokeLoopEngine } from "../src/server/model-engines.ts"
import { CloseCode } from "../src/shared/protocol.ts"
import { Client, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

describe("the real conversation loop on the smoke models behind the protocol", () => {
  let server: RunningServer
  afterAll(async () => {
    await server?.close()
  })

  it("prompts before the handshake, answers audio with audio, and reports two windows and a compaction", async () => {
    server = await startServer(smokeLoopEngine({ windowFrames: 12 }), { maxSessions: 2 })
    const client = Client.connect(server, { text_prompt: "You repair old clocks.", events: "json" })
    // the loop prompted the model before the handshake: its first window starts with the first frame
    await client.handshake
    // a microphone: one 80 ms frame every 80 ms until the test has seen enough
    let speaking = true
    const microphone = (async () => {
      for (let i = 0; speaking; i++) {
        await client.sendFrames(tone(1, 300 + 20 * (i % 20)))
        await new Promise((r) => setTimeout(r, 80))
      }
    })()
    await waitFor("the first window", () => client.events.some((e) => e.type === "window"), 2000)
    await waitFor(
      "two windows and a compaction",
      () =>
        client.events.filter((e) => e.type === "window" && e.phase === "end").length >= 2 &&
        client.events.some((e) => e.type === "compaction"),
      60_000,
    )
    speaking = false
    await microphone
    expect(client.errors).toEqual([])
    expect(client.received.length).toBeGreaterThan(20)
    expect(client.rms()).toBeGreaterThan(0)
    const prompts = client.events.flatMap((e) => (e.type === "prompt" ? [e] : []))
    expect(prompts[0]).toMatchObject({ source: "initial", windowIndex: 0 })
    expect(prompts[0]?.prompt).toContain("You repair old clocks.")
    expect(prompts[1]?.windowIndex).toBe(1)
    const compaction = client.events.find((e) => e.type === "compaction")
    expect(compaction?.type === "compaction" && compaction.pauseMs).toBeGreaterThan(0)
    // stats come once a second; one taken during a window switch has no frame timings
    await waitFor(
      "a stats event with frame timings",
      () => client.events.some((e) => e.type === "stats" && e.frameMs.mean > 0 && e.rtf > 0),
      5000,
    )
    await client.close()
    await waitFor(
      "the loop session to be released",
      async () => {
        const c = await server.countsNow()
        return c.sessions === 0 && c.engineSessions === 0 && c.opusWriters === 0
      },
      20_000,
    )
  })

  it("prompts with the chosen voice from the voices folder (a WAV voice, encoded by Mimi)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-smoke-voices-"))
    fs.copyFileSync(assets.helloWav, path.join(dir, "hello.wav"))
    const voiced = await startServer(smokeLoopEngine({ windowFrames: 12 }), { voicesDir: dir })
    try {
      const client = Client.connect(voiced, {
        voice_prompt: "hello.wav",
        text_prompt: "You hum.",
        events: "json",
      })
      await client.handshake
      await waitFor("the hello event", () => client.events.some((e) => e.type === "hello"))
      expect(client.events.find((e) => e.type === "hello")).toMatchObject({ voice: "hello.wav" })
      await client.sendFrames(tone(4))
      await waitFor("agent audio", () => client.received.length >= 2, 30_000)
      expect(client.errors).toEqual([])
      await client.close()
      await waitFor("the slot to be free", async () => (await voiced.countsNow()).sessions === 0)
      // a voice file that cannot be read ends that request with a clear error, not the server
      fs.writeFileSync(path.join(dir, "broken.pt"), "not a torch archive")
      const broken = Client.connect(voiced, { voice_prompt: "broken.pt", text_prompt: "You hum." })
      await broken.closed
      expect(broken.errors[0]).toMatch(/^engine failed: cannot load voice broken\.pt/)
      expect(broken.closeCode).toBe(CloseCode.InternalError)
      await waitFor("nothing left open", async () => (await voiced.countsNow()).engineSessions === 0)
    } finally {
      await voiced.close()
    }
  })

  it("releases the models of a client that leaves while they load or prompt", async () => {
    const server = await startServer(smokeLoopEngine({ windowFrames: 12 }))
    try {
      for (const waitMs of [50, 600]) {
        const client = Client.connect(server, { text_prompt: "You leave early." })
        await client.opened
        await new Promise((r) => setTimeout(r, waitMs))
        client.ws.terminate()
        await client.closed
        await waitFor(
          `the session left after ${waitMs} ms to be released`,
          async () => {
            const c = await server.countsNow()
            return c.sessions === 0 && c.engineSessions === 0 && c.opusWriters === 0
          },
          20_000,
        )
      }
    } finally {
      await server.close()
    }
  })

  it("runs two conversations at once, each on its own models with its own prompt", async () => {
    const both = await startServer(smokeLoopEngine({ windowFrames: 50 }), { maxSessions: 2 })
    try {
      const a = Client.connect(both, { text_prompt: "You sell lighthouses.", events: "json" })
      const b = Client.connect(both, { text_prompt: "You train parrots.", events: "json" })
      await Promise.all([a.handshake, b.handshake])
      expect(await both.countsNow()).toMatchObject({ sessions: 2, engineSessions: 2 })
      await Promise.all([a.sendFrames(tone(6)), b.sendFrames(tone(6, 330))])
      await waitFor("audio for both", () => a.received.length >= 3 && b.received.length >= 3, 30_000)
      const promptOf = (c: Client) => c.events.find((e) => e.type === "prompt")
      expect(promptOf(a)).toMatchObject({ prompt: "<system> You sell lighthouses. <system>" })
      expect(promptOf(b)).toMatchObject({ prompt: "<system> You train parrots. <system>" })
      await Promise.all([a.close(), b.close()])
      await waitFor(
        "both loop sessions to be released",
        async () => (await both.countsNow()).engineSessions === 0,
        20_000,
      )
    } finally {
      await both.close()
    }
  })
})
