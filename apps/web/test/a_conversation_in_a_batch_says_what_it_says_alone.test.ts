import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { WindowEvent } from "../src/shared/events.ts"
import { Client, health, type RunningServer, startFromFlags, tone, waitFor } from "./helpers.ts"
import { responsiveModels } from "./responsive-models.ts"

/** Frames of the first window: A's whole first window is its own audio, sent ahead of the ticks. */
const WINDOW = 16

const windowText = (client: Client, index: number) =>
  client.events.find((e): e is WindowEvent => e.type === "window" && e.phase === "end" && e.index === index)
    ?.agentText

/** Session A: its prompt, voice and audio (all sent at once, so every tick finds its next frame waiting). */
const conversationA = async (server: RunningServer) => {
  const a = Client.connect(server, {
    voice_prompt: "low.wav",
    text_prompt: "You tune pianos.",
    events: "json",
  })
  await a.handshake
  await a.sendFramesAtOnce(tone(WINDOW + 6, 260))
  await waitFor("A's first window to end", () => windowText(a, 0) !== undefined, 120_000)
  await a.close()
  return windowText(a, 0)!
}

/** One 80 ms frame every 80 ms until `until` says stop. */
const microphone = async (client: Client, frequency: number, until: () => boolean) => {
  for (let i = 0; !until() && client.ws.readyState === client.ws.OPEN; i++) {
    await client.sendFrames(tone(1, frequency + 15 * (i % 6)))
    await new Promise((r) => setTimeout(r, 80))
  }
}

describe("isolation on one batched LM step (--max-sessions 3, tiny models that answer what they hear)", () => {
  let server: RunningServer
  beforeAll(async () => {
    const { config, voices } = await responsiveModels()
    server = await startFromFlags([
      "--config",
      config,
      "--voices",
      voices,
      "--max-sessions",
      "3",
      "--window-frames",
      String(WINDOW),
    ])
  }, 240_000)
  afterAll(async () => {
    await server?.close()
  })

  it("the same session (prompt, voice, seed, audio) says the same alone and beside a talker, a garbage sender and a client that leaves mid-conversation", async () => {
    const alone = await conversationA(server)
    expect(alone.length).toBeGreaterThan(0)
    await waitFor("A released", async () => (await health(server)).batch?.live === 0, 20_000)
    // after its audio, the clock gave A silence until its window's pause: late input frames
    await waitFor("A's figures", async () => (await health(server)).recentSessions.length === 1)
    expect((await health(server)).recentSessions[0]!.lateInputFrames).toBeGreaterThan(0)

    // B talks throughout (its windows switch: a compaction and a re-prompt amid A's frames);
    // C sends garbage between its audio and leaves while A is in its first window.
    const b = Client.connect(server, {
      voice_prompt: "high.wav",
      text_prompt: "You sell bicycles.",
      events: "json",
    })
    const c = Client.connect(server, {
      voice_prompt: "high.wav",
      text_prompt: "You grow tomatoes.",
      events: "json",
    })
    await Promise.all([b.handshake, c.handshake])
    let done = false
    const bTalks = microphone(b, 330, () => done)
    const cTalks = (async () => {
      for (let i = 0; i < 40 && c.ws.readyState === c.ws.OPEN; i++) {
        if (i % 3 === 0) c.sendRaw(Uint8Array.of(0x01, 0x4f, 0x67, 0x67, 0x53, 0xff, 0x00, 0x13))
        if (i % 5 === 0) c.sendRaw("not binary")
        if (i % 7 === 0) c.sendRaw(Uint8Array.of(0x7f, 1, 2, 3))
        await c.sendFrames(tone(1, 180 + 20 * (i % 4)))
        await new Promise((r) => setTimeout(r, 80))
      }
    })()
    await waitFor("B and C in the ticks", async () => (await health(server)).batch?.ticking === 2, 20_000)
    const crowdA = conversationA(server)
    await waitFor("A talking beside them", async () => (await health(server)).batch?.ticking === 3, 60_000)
    await new Promise((r) => setTimeout(r, 300))
    await c.close()
    const inCrowd = await crowdA
    done = true
    await Promise.all([bTalks, cTalks])
    await b.close()

    expect(inCrowd).toBe(alone)
    expect(c.events.some((e) => e.type === "warning")).toBe(true)
    // B's own prompt and voice: its words are not A's
    expect(windowText(b, 0)).toBeDefined()
    expect(windowText(b, 0)).not.toBe(alone)
    const h = await health(server)
    expect(h.batch!.lmSteps).toBeGreaterThan(h.batch!.lmRuns)
  }, 240_000)
})
