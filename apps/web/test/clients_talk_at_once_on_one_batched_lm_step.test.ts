import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { HelloEvent } from "../src/shared/events.ts"
import { Client, captureLogs, health, type RunningServer, startFromFlags, tone, waitFor } from "./helpers.ts"

/** One 80 ms frame every 80 ms, as a microphone. */
const speak = async (client: Client, frames: number, frequency: number) => {
  for (let i = 0; i < frames; i++) {
    await client.sendFrames(tone(1, frequency + 10 * (i % 8)))
    await new Promise((r) => setTimeout(r, 80))
  }
}

describe("--max-sessions 3 on the smoke models: conversations at once on one batched LM step", () => {
  let server: RunningServer
  const logs = captureLogs()
  beforeAll(async () => {
    server = await startFromFlags(
      ["--engine", "smoke", "--max-sessions", "3", "--window-frames", "200"],
      logs.layer,
    )
  }, 240_000)
  afterAll(async () => {
    await server?.close()
  })

  it("two clients, each with its own prompt and voice, both get an agent frame every tick of one clock; /api/health reports the batch", async () => {
    const before = await health(server)
    expect(before.batch).toMatchObject({ rows: 4, live: 0, freeRows: 4 })
    const a = Client.connect(server, {
      voice_prompt: "NATF1.pt",
      text_prompt: "You repair old clocks.",
      events: "json",
    })
    const b = Client.connect(server, {
      voice_prompt: "VARM2.pt",
      text_prompt: "You sell bicycles.",
      events: "json",
    })
    await Promise.all([a.handshake, b.handshake])
    await waitFor("both hello events", () => [a, b].every((c) => c.events.some((e) => e.type === "hello")))
    const hello = (c: Client) => c.events.find((e): e is HelloEvent => e.type === "hello")!
    expect(hello(a)).toMatchObject({
      voice: "NATF1.pt",
      textPrompt: "You repair old clocks.",
      maxSessions: 3,
    })
    expect(hello(b)).toMatchObject({ voice: "VARM2.pt", textPrompt: "You sell bicycles." })

    const ticksBefore = (await health(server)).batch!.ticks
    const frames = 40
    await Promise.all([speak(a, frames, 220), speak(b, frames, 330)])
    await new Promise((r) => setTimeout(r, 400))
    // One clock for both: each client got an agent frame for every tick since it began to speak,
    // neither waited for the other (a tick lasts 80 ms wherever the step keeps up: headroomMs ≥ 0).
    const received = [a.received.length, b.received.length]
    const during = await health(server)
    const ticks = during.batch!.ticks - ticksBefore
    expect(ticks).toBeGreaterThan(5)
    for (const n of received) {
      expect(n).toBeGreaterThanOrEqual(ticks - 3)
      expect(n).toBeLessThanOrEqual(ticks + 1)
    }
    for (const c of [a, b]) {
      expect(c.errors).toEqual([])
      expect(c.rms()).toBeGreaterThan(0)
    }
    expect(during.sessions).toBe(2)
    expect(during.batch).toMatchObject({ rows: 4, live: 2, ticking: 2, freeRows: 2 })
    const batch = during.batch!
    // the two conversations' steps went into shared runs of the batched graph
    expect(batch.lmSteps).toBeGreaterThan(batch.lmRuns)
    expect(batch.tickMs.count).toBeGreaterThan(0)
    expect(batch.tickMs.p99).toBeGreaterThanOrEqual(batch.tickMs.p50)
    expect(batch.headroomMs).toBeCloseTo(80 - batch.tickMs.p99, 5)

    await Promise.all([a.close(), b.close()])
    await waitFor(
      "both sessions released",
      async () => {
        const h = await health(server)
        const counts = await server.countsNow()
        return (
          h.batch?.live === 0 &&
          h.recentSessions.length === 2 &&
          counts.engineSessions === 0 &&
          counts.opusWriters === 0
        )
      },
      20_000,
    )
    const after = await health(server)
    for (const s of after.recentSessions) {
      expect(s.runsOn).toMatch(/^LM on cpu \(fused, one row of a 4-row batch\), Mimi on cpu/)
      expect(s.lateInputFrames).toBeGreaterThanOrEqual(0)
      // the close line counts them too
      const close = logs.lines.find(
        (l) => l.annotations.event === "close" && l.annotations.session === s.sessionId,
      )
      expect(close?.annotations.lateInputFrames).toBe(s.lateInputFrames)
      expect(close?.message).toContain(`; ${s.lateInputFrames} late input frames (silence in their place)`)
      expect(s.framesOut).toBeGreaterThan(5)
    }
  }, 120_000)
})
