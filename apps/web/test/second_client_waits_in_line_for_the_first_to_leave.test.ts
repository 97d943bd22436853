import { Effect, Metric } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { WebMetrics } from "../src/server/metrics.ts"
import type { QueueEvent } from "../src/shared/events.ts"
import { CloseCode } from "../src/shared/protocol.ts"
import { Client, health, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const places = (c: Client) =>
  c.events.flatMap((e) => (e.type === "queue" ? [(e as QueueEvent).position] : []))

describe("the waiting room over the protocol (--max-sessions 1)", () => {
  it("a second client waits, knows its place, and gets its handshake when the first leaves; /api/health counts them", async () => {
    const server = await startServer(EchoEngine.layer(), {
      maxSessions: 1,
      maxWaiting: 4,
      waitTimeoutMs: 30_000,
    })
    servers.push(server)
    const first = Client.connect(server, { text_prompt: "first" })
    await first.handshake
    // upstream's client asks for no events: it just waits for the handshake
    const second = Client.connect(server, { text_prompt: "second" })
    const third = Client.connect(server, { text_prompt: "third", events: "json" })
    await waitFor("two clients in line", async () => (await health(server)).waiting === 2)
    expect(await health(server)).toMatchObject({ sessions: 1, maxSessions: 1, waiting: 2, maxWaiting: 4 })
    await waitFor("the third client's place", () => places(third).length > 0)
    expect(places(third)).toEqual([2])
    expect(second.handshakeAt).toBeUndefined()
    expect(second.events).toEqual([])

    await first.close()
    await second.handshake
    await waitFor("the third client to move up", () => places(third).at(-1) === 1)
    expect(await health(server)).toMatchObject({ sessions: 1, waiting: 1 })
    // the second conversation works as any other
    await second.sendFrames(tone(8))
    await waitFor("agent audio for the second client", () => second.received.length >= 3)
    expect(second.text.join("")).toContain("second")
    expect(third.handshakeAt).toBeUndefined()

    await second.close()
    await third.handshake
    expect(third.events.find((e) => e.type === "hello")).toMatchObject({ textPrompt: "third" })
    expect(await health(server)).toMatchObject({ sessions: 1, waiting: 0 })
    await third.close()
    await waitFor("an empty server", async () => (await health(server)).sessions === 0)
  })

  it("serves clients in the order they came, and a client that leaves the line gives up its place", async () => {
    const server = await startServer(EchoEngine.layer(), { maxSessions: 1, maxWaiting: 4 })
    servers.push(server)
    const first = Client.connect(server, { text_prompt: "first" })
    await first.handshake
    const order: string[] = []
    const waiting = ["a", "b", "c"].map((name) => {
      const c = Client.connect(server, { text_prompt: name })
      void c.handshake.then(() => order.push(name))
      return c
    })
    await waitFor("three in line", async () => (await health(server)).waiting === 3)
    waiting[1]!.ws.terminate() // b leaves the line
    await waitFor("b out of the line", async () => (await health(server)).waiting === 2)
    await first.close()
    await waiting[0]!.handshake
    await waiting[0]!.close()
    await waiting[2]!.handshake
    expect(order).toEqual(["a", "c"])
    await waiting[2]!.close()
  })

  it("refuses a client past --wait-timeout, and one more than --max-waiting at once, with close code 1013", async () => {
    const busy = Metric.withAttributes(WebMetrics.refusals, { reason: "busy" })
    const before = (await Effect.runPromise(Metric.value(busy))).count
    const server = await startServer(EchoEngine.layer(), {
      maxSessions: 1,
      maxWaiting: 1,
      waitTimeoutMs: 700,
    })
    servers.push(server)
    const first = Client.connect(server, { text_prompt: "first" })
    await first.handshake
    const patient = Client.connect(server, { text_prompt: "patient" })
    await waitFor("one in line", async () => (await health(server)).waiting === 1)
    const tooMany = Client.connect(server, { text_prompt: "too many" })
    await tooMany.closed
    expect(tooMany.errors).toEqual([
      "busy: all 1 conversation slot(s) are in use and 1 client(s) are waiting (the most --max-waiting allows), try again later",
    ])
    expect(tooMany.closeCode).toBe(CloseCode.TryAgainLater)

    await patient.closed
    expect(patient.handshakeAt).toBeUndefined()
    expect(patient.errors).toEqual([
      "busy: waited 0.7 s for one of 1 conversation slot(s) (--wait-timeout), try again later",
    ])
    expect(patient.closeCode).toBe(CloseCode.TryAgainLater)
    expect(patient.closeReason).toMatch(/^busy: waited 0\.7 s/)
    expect(await health(server)).toMatchObject({ sessions: 1, waiting: 0 })
    expect((await Effect.runPromise(Metric.value(busy))).count).toBe(before + 2)
    await first.close()
  })
})
