import { assets } from "@personaplex/audio-io"
import { afterAll, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { upstreamClientQuery } from "../src/server/upstream-client-query.ts"
import { haveChromium, launchWithFakeMicrophone, noChromiumReason } from "./browser.ts"
import { type RunningServer, startServer, waitFor } from "./helpers.ts"
import { type UpstreamPageResult, upstreamPageDir } from "./upstream-page.ts"

if (!haveChromium) console.log(noChromiumReason)

const speechWav = assets.helloWav

describe.skipIf(!haveChromium)("the libraries of upstream's web client against this server", () => {
  let server: RunningServer | undefined
  afterAll(async () => {
    await server?.close()
  })

  it("opus-recorder's Ogg pages are understood, and the server's pages decode in opus-recorder's decoder", async () => {
    const staticDir = upstreamPageDir(
      upstreamClientQuery({
        text_prompt: "You answer like an old sailor.",
        voice_prompt: "",
        events: "json",
      }),
    )
    server = await startServer(EchoEngine.layer({ windowFrames: 20 }), { staticDir })
    const browser = await launchWithFakeMicrophone(speechWav)
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage())
      await page.goto(`${server.url}/`)
      await page.click("#go")
      const result = () =>
        page.evaluate(() => (globalThis as unknown as { result: UpstreamPageResult }).result)
      await waitFor("the handshake", async () => (await result()).handshake, 10_000)
      await waitFor(
        "2 s of decoded agent audio",
        async () => (await result()).decodedSamples >= 48_000,
        30_000,
      )
      await waitFor(
        "a stats event",
        async () => (await result()).events.some((e) => e.type === "stats"),
        5000,
      )
      const r = await result()
      expect(r.errors).toEqual([])
      expect(r.events.filter((e) => e.type === "warning")).toEqual([])
      const stats = r.events.findLast((e) => e.type === "stats")
      expect(stats?.type === "stats" && stats.framesIn).toBeGreaterThan(10)
      expect(Math.sqrt(r.sumSquares / r.decodedSamples)).toBeGreaterThan(0.01)
      expect(r.text.join("")).toContain("sailor")
    } finally {
      await browser.close()
    }
  })
})
