import { afterEach, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { smokeLoopEngine } from "../src/server/model-engines.ts"
import { Client, captureLogs, health, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

/** One session of `frames` user frames on an echo engine computing `frameDelayMs` a frame. */
const session = async (frameDelayMs: number, frames: number) => {
  const logs = captureLogs()
  const server = await startServer(EchoEngine.layer({ windowFrames: 100, frameDelayMs }), {}, logs.layer)
  servers.push(server)
  const client = Client.connect(server, { text_prompt: "Count my frames." })
  await client.handshake
  await client.sendFrames(tone(frames))
  await waitFor("agent audio", () => client.received.length >= 3, 20_000)
  await client.close()
  await waitFor("the close line", () => logs.lines.some((l) => l.annotations.event === "close"))
  return { close: logs.lines.find((l) => l.annotations.event === "close")!, health: await health(server) }
}

describe("late frames are counted per session", () => {
  it("frames computed in more than 80 ms are late: in the close line and /api/health's recentSessions", async () => {
    const { close, health: after } = await session(90, 12)
    expect(after.recentSessions).toHaveLength(1)
    const stats = after.recentSessions[0]!
    expect(stats).toMatchObject({ sessionId: "s1", closedBy: "client" })
    expect(stats.frameMs.count).toBeGreaterThanOrEqual(3)
    expect(stats.lateFrames).toBe(stats.frameMs.count)
    expect(stats.frameMs.p50).toBeGreaterThan(80)
    expect(close.annotations.lateFrames).toBe(stats.lateFrames)
    expect(close.message).toMatch(
      new RegExp(
        `, ${stats.lateFrames} late \\(compute > 80 ms\\), \\d+ dropped; frame p50 \\d+(\\.\\d)? ms`,
      ),
    )
    expect(stats.promptMs).toBeGreaterThanOrEqual(0)
  })

  it("a session that keeps up has none", async () => {
    const { close, health: after } = await session(0, 12)
    expect(close.annotations).toMatchObject({ lateFrames: 0, droppedFrames: 0 })
    expect(after.recentSessions[0]).toMatchObject({ lateFrames: 0, droppedFrames: 0 })
    expect(after.recentSessions[0]!.frameMs.count).toBeGreaterThanOrEqual(3)
    expect(after.recentSessions[0]!.frameMs.max).toBeLessThan(80)
  })

  it("a loop session names where its models computed, as onnxruntime opened them", async () => {
    const logs = captureLogs()
    const server = await startServer(smokeLoopEngine({ windowFrames: 12 }), {}, logs.layer)
    servers.push(server)
    const client = Client.connect(server, { text_prompt: "Where do you run?" })
    await client.handshake
    await client.sendFrames(tone(8))
    await waitFor("agent audio", () => client.received.length >= 2, 20_000)
    await client.close()
    await waitFor("the close line", () => logs.lines.some((l) => l.annotations.event === "close"))
    const runsOn = "LM on cpu (two-graph), Mimi on cpu (host-state)"
    expect(logs.lines.find((l) => l.annotations.event === "handshake")?.message).toMatch(
      new RegExp(`^handshake after \\d+ ms of prompting; ${runsOn.replace(/[()]/g, "\\$&")}$`),
    )
    expect((await health(server)).recentSessions[0]).toMatchObject({ runsOn })
  })
})
