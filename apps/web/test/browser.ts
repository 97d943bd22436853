import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

export const CHROMIUM = process.env.PERSONAPLEX_CHROMIUM ?? "/usr/bin/chromium"
export const haveChromium = fs.existsSync(CHROMIUM)
export const noChromiumReason = `skipping browser tests: no Chromium at ${CHROMIUM} (Debian: apt-get install -y chromium; or set PERSONAPLEX_CHROMIUM)`

/** Headless Debian Chromium with a WAV file as the microphone, in a fresh profile. */
export const launchWithFakeMicrophone = async (
  wav: string,
): Promise<{ context: BrowserContext; close: () => Promise<void> }> => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "pp-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 960 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${wav}`,
      "--autoplay-policy=no-user-gesture-required",
    ],
  })
  return {
    context,
    close: async () => {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Builds the page into dist/public with the package's vite config. */
export const buildPage = async (): Promise<string> => {
  const { build } = await import("vite")
  const root = path.resolve(import.meta.dirname, "..")
  await build({ configFile: path.join(root, "vite.config.ts"), logLevel: "warn" })
  return path.join(root, "dist", "public")
}
