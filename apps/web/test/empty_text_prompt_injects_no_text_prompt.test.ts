import { afterEach, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { smokeLoopEngine } from "../src/server/model-engines.ts"
import { Client, type RunningServer, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

describe('text_prompt=""', () => {
  it("the real loop injects no text prompt (not `<system>  <system>`), as upstream, and the conversation goes on", async () => {
    const server = await startServer(smokeLoopEngine({ windowFrames: 50 }))
    servers.push(server)
    const client = Client.connect(server, { text_prompt: "", events: "json" })
    await client.handshake
    // the first window (and its prompt event) starts with the first frame
    await client.sendFrames(tone(4))
    await waitFor("the first prompt event", () => client.events.some((e) => e.type === "prompt"), 30_000)
    expect(client.events.find((e) => e.type === "hello")).toMatchObject({ textPrompt: "" })
    expect(client.events.find((e) => e.type === "prompt")).toMatchObject({
      prompt: "",
      source: "initial",
      windowIndex: 0,
    })
    await waitFor("agent audio", () => client.received.length >= 2, 30_000)
    expect(client.errors).toEqual([])
    await client.close()
  })

  it("the echo engine has no prompt to speak either; no text_prompt at all still means upstream's teacher prompt", async () => {
    const server = await startServer(EchoEngine.layer({ framesPerWord: 1 }))
    servers.push(server)
    const empty = Client.connect(server, { text_prompt: "", events: "json" })
    await empty.handshake
    await empty.sendFrames(tone(8))
    await waitFor("agent audio", () => empty.received.length >= 5)
    expect(empty.events.find((e) => e.type === "prompt")).toMatchObject({ prompt: "" })
    expect(empty.text).toEqual([])
    await empty.close()
    const absent = Client.connect(server, { events: "json" })
    await absent.handshake
    await waitFor("the prompt event", () => absent.events.some((e) => e.type === "prompt"))
    expect(absent.events.find((e) => e.type === "prompt")).toMatchObject({
      prompt:
        "<system> You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way. <system>",
    })
    await absent.close()
  })
})
