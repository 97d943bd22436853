import { assets } from "@personaplex/audio-io"
import { afterAll, describe, expect, it } from "vitest"
import { upstreamClientQuery } from "../src/server/upstream-client-query.ts"
import { haveChromium, launchWithFakeMicrophone, noChromiumReason } from "./browser.ts"
import { captureLogs, type RunningServer, startFromFlags, waitFor } from "./helpers.ts"
import { type UpstreamPageResult, upstreamPageDir } from "./upstream-page.ts"

if (!haveChromium) console.log(noChromiumReason)

describe.skipIf(!haveChromium)(
  "a client speaking exactly as upstream's, against the server with default flags",
  () => {
    let server: RunningServer | undefined
    afterAll(async () => {
      await server?.close()
    })

    it("NATF0.pt, upstream's query string and opus-recorder pages: handshake, agent audio and text arrive", async () => {
      // upstream's client served with --static, as a user would; nothing else on the command line
      const query = upstreamClientQuery()
      expect(Object.keys(query)).toEqual([
        "text_temperature",
        "text_topk",
        "audio_temperature",
        "audio_topk",
        "pad_mult",
        "text_seed",
        "audio_seed",
        "repetition_penalty_context",
        "repetition_penalty",
        "text_prompt",
        "voice_prompt",
      ])
      const logs = captureLogs()
      const started = await startFromFlags(["--static", upstreamPageDir(query)], logs.layer)
      server = started
      expect(started.started).toMatchObject({ engine: "smoke", defaultVoice: "NATF0.pt" })
      const browser = await launchWithFakeMicrophone(assets.helloWav)
      try {
        const page = browser.context.pages()[0] ?? (await browser.context.newPage())
        await page.goto(`${server.url}/`)
        await page.click("#go")
        const result = () =>
          page.evaluate(() => (globalThis as unknown as { result: UpstreamPageResult }).result)
        await waitFor("the handshake", async () => (await result()).handshake, 60_000)
        await waitFor(
          "1.5 s of decoded agent audio",
          async () => (await result()).decodedSamples >= 36_000,
          60_000,
        )
        await waitFor("agent text", async () => (await result()).text.length > 0, 30_000)
        const r = await result()
        expect(r.errors).toEqual([])
        expect(r.pagesSent).toBeGreaterThan(10)
        expect(Math.sqrt(r.sumSquares / r.decodedSamples)).toBeGreaterThan(0)
        // the server read every page it was sent (no warning) and prompted with the voice asked for
        const lines = logs.lines.filter((l) => l.annotations.session === "s1")
        expect(lines.filter((l) => l.annotations.event === "warning")).toEqual([])
        expect(lines[0]).toMatchObject({
          annotations: { event: "connect", voice: "NATF0.pt", promptChars: query.text_prompt!.length },
        })
        expect(lines.some((l) => l.annotations.event === "handshake")).toBe(true)
      } finally {
        await browser.close()
      }
    })
  },
)
