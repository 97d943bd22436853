import * as fs from "node:fs"
import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { smokeLoopEngine } from "../src/server/model-engines.ts"
import type { ServerEvent } from "../src/shared/events.ts"
import { buildPage, haveChromium, launchWithFakeMicrophone, noChromiumReason } from "./browser.ts"
import { type RunningServer, startServer, waitFor } from "./helpers.ts"

if (!haveChromium) console.log(noChromiumReason)

const artifacts = path.resolve(import.meta.dirname, "..", "test-artifacts")
const speechWav = assets.helloWav

interface PageDebug {
  state: string
  handshake: boolean
  errors: string[]
  audio: { decodedSeconds: number; rms: number; packets: number; errors: number }
  pagesSent: number
  textPieces: number
  events: ServerEvent[]
}

describe.skipIf(!haveChromium)("the web page in headless Chromium", () => {
  let server: RunningServer
  let staticDir: string
  beforeAll(async () => {
    staticDir = await buildPage()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("holds a two-window conversation from a WAV microphone: audio back, transcript, prompt and timeline shown", async () => {
    // the real loop on the smoke models of `personaplex demo`
    server = await startServer(smokeLoopEngine({ windowFrames: 15 }), { staticDir })
    const browser = await launchWithFakeMicrophone(speechWav)
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage())
      page.on("console", (m) => {
        if (m.type() === "error") console.log(`page: ${m.text()}`)
      })
      await page.goto(`${server.url}/`)
      await page.fill("#prompt", "You are a patient librarian who recommends novels about the sea.")
      await page.click("#connect")
      const debug = () =>
        page.evaluate(() => (globalThis as unknown as { personaplex: PageDebug }).personaplex)
      await waitFor("the handshake", async () => (await debug()).handshake, 20_000)
      await waitFor(
        "two windows to end",
        async () =>
          (await debug()).events.filter((e) => e.type === "window" && e.phase === "end").length >= 2,
        90_000,
      )
      await waitFor("a stats event", async () => (await debug()).events.some((e) => e.type === "stats"), 5000)
      const state = await debug()
      expect(state.errors).toEqual([])
      expect(state.pagesSent).toBeGreaterThan(50)
      expect(state.audio.decodedSeconds).toBeGreaterThan(2)
      expect(state.audio.errors).toBe(0)
      expect(state.audio.rms).toBeGreaterThan(0.0005)
      expect(state.textPieces).toBeGreaterThan(0)
      const transcript = (await page.textContent("#transcript")) ?? ""
      expect(transcript).toContain("window 1")
      expect(await page.textContent("#system-prompt")).toContain("<system>")
      expect(await page.textContent("#prompt-source")).toMatch(/^(model|fallback)$/)
      expect(await page.locator("#timeline .seg.win").count()).toBeGreaterThanOrEqual(2)
      expect(await page.locator("#timeline .seg.pause").count()).toBeGreaterThanOrEqual(1)
      expect(await page.locator("#switches tbody tr").count()).toBeGreaterThanOrEqual(1)
      expect(await page.textContent("#m-rtf")).toMatch(/^\d+\.\d\d$/)
      fs.mkdirSync(artifacts, { recursive: true })
      await page.screenshot({ path: path.join(artifacts, "conversation.png"), fullPage: true })

      await page.click("#disconnect")
      await waitFor("the server to release the session", async () => {
        const c = await server.countsNow()
        return c.sessions === 0 && c.engineSessions === 0 && c.opusWriters === 0
      })
    } finally {
      await browser.close()
    }
  })
})
