import { assets } from "@personaplex/audio-io"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { buildPage, haveChromium, launchWithFakeMicrophone, noChromiumReason } from "./browser.ts"
import { Client, type RunningServer, startServer, waitFor } from "./helpers.ts"

if (!haveChromium) console.log(noChromiumReason)

interface PageDebug {
  state: string
  handshake: boolean
  errors: string[]
  closeCode: number
  closeReason: string
  queuePosition: number
}

describe.skipIf(!haveChromium)("the page while it waits, and when it is refused", () => {
  let server: RunningServer
  let staticDir: string
  beforeAll(async () => {
    staticDir = await buildPage()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("shows its place in line, then talks when the slot frees; a refusal shows the server's message and the close code", async () => {
    server = await startServer(EchoEngine.layer(), { staticDir, maxSessions: 1, waitTimeoutMs: 2500 })
    const browser = await launchWithFakeMicrophone(assets.helloWav)
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage())
      await page.goto(`${server.url}/`)
      const debug = () =>
        page.evaluate(() => (globalThis as unknown as { personaplex: PageDebug }).personaplex)

      const holder = Client.connect(server, { text_prompt: "I hold the only slot." })
      await holder.handshake
      await page.click("#connect")
      await waitFor("the page's place in line", async () => (await debug()).queuePosition === 1)
      expect(await page.isVisible("#queue")).toBe(true)
      expect(await page.textContent("#queue")).toBe(
        "All 1 conversation slot(s) are taken: you are number 1 in line (the server waits up to 3 s).",
      )
      expect(await page.textContent("#status")).toBe("waiting · place 1")
      await holder.close()
      await waitFor("the page's handshake", async () => (await debug()).handshake)
      expect(await page.isVisible("#queue")).toBe(false)
      expect(await page.textContent("#status")).toBe("live")
      await page.click("#disconnect")
      await waitFor("the slot to be free", async () => (await server.countsNow()).sessions === 0)

      // now the page waits past --wait-timeout
      const again = Client.connect(server, { text_prompt: "Mine again." })
      await again.handshake
      await page.click("#connect")
      await waitFor(
        "the refusal",
        async () => (await debug()).closeCode !== 0 && (await debug()).state === "closed",
        10_000,
      )
      const state = await debug()
      expect(state.errors).toEqual([
        "busy: waited 2.5 s for one of 1 conversation slot(s) (--wait-timeout), try again later",
      ])
      expect(state.closeCode).toBe(1013)
      const shown = (await page.textContent("#error")) ?? ""
      expect(shown).toContain("busy: waited 2.5 s for one of 1 conversation slot(s)")
      expect(shown).toContain("connection closed (code 1013: busy: waited 2.5 s")
      expect(await page.textContent("#status")).toBe("refused")
      await again.close()
    } finally {
      await browser.close()
    }
  })
})
