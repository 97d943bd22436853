/**
 * `personaplex run` over espeak-ng speech with known gaps, heard by Silero VAD, on the smoke Mimi and
 * a smoke LM whose text head always pads (quietAgentLm.ts): the agent is never mid-word, so where
 * each window ends is the real pause rule's verdict on the user's speech, through the whole product.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { writeWav } from "@personaplex/audio-io"
import type { RunReport } from "@personaplex/loop"
import { ensureSmokeModels } from "@personaplex/stack"
import {
  bookingConversation,
  espeakMissing,
  type ScriptPart,
  spanAt,
  speakScript,
  unbrokenMonologue,
  windowCuts,
} from "@personaplex/vad"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { writeQuietAgentLm } from "./quietAgentLm.ts"
import { built, runBin, sharedSmokeCache, tempDir, writeSmokeConfig } from "./support.ts"

const missing = espeakMissing()
if (missing) console.log(`skipping the personaplex run switch-at-pauses tests: ${missing}`)

const WINDOW_FRAMES = 25 // 2 s
const FRAME_SAMPLES = 1920
const PAUSE_MS = 400

let models: { mimi: string; lm: string; tokenizer: string; mimiConfig: string; lmConfig: string }

beforeAll(() => {
  if (!built || missing) return
  const smoke = Effect.runSync(Effect.orDie(ensureSmokeModels(sharedSmokeCache)))
  const quietLm = path.join(tempDir("cli-quiet-lm-"), "lm-quiet-agent.safetensors")
  writeQuietAgentLm(smoke.lm, quietLm)
  models = { ...smoke, lm: quietLm }
})

/** `personaplex run` on the script with these conversation keys; its report and the script. */
const runOn = async (parts: ReadonlyArray<ScriptPart>, conversationKeys: string) => {
  const cwd = tempDir("cli-pause-")
  const script = await Effect.runPromise(Effect.orDie(speakScript(parts)))
  const input = path.join(cwd, "speech.wav")
  await Effect.runPromise(Effect.orDie(writeWav(input, { sampleRate: 24000, channels: [script.samples] })))
  writeSmokeConfig(cwd, models, [
    "runtime: { threads: 1 }",
    `conversation: { window_frames: ${WINDOW_FRAMES}, pause_ms: ${PAUSE_MS}, vad: silero, ${conversationKeys} }`,
  ])
  const run = runBin(["run", "--config", "run.yaml", "--input", input, "--output", "out.wav"], cwd)
  expect(run.status, run.all).toBe(0)
  const report = JSON.parse(fs.readFileSync(path.join(cwd, "out.report.json"), "utf8")) as RunReport
  return { report, script, stdout: run.stdout }
}

const seconds = (samples: number) => (samples / 24000).toFixed(2)

describe.skipIf(!built || missing !== undefined)(
  "personaplex run: where windows end, on espeak-ng speech",
  () => {
    it("switch: pause cuts only inside the user's gaps of at least pause_ms, never inside a sentence", async () => {
      const { report, script, stdout } = await runOn(bookingConversation, "switch: pause, max_duration: 10")
      const cuts = windowCuts(report.windows)
      console.log(
        "personaplex run, switch: pause: cuts (s)",
        cuts.map(seconds),
        report.switches.map((s) => `${s.reason} (user ${s.userSilentMs} ms, agent ${s.agentSilentMs} ms)`),
      )
      expect(report.meta.voiceActivity).toBe("silero-v5")
      // The agent never spoke: its side of the pause rule held throughout.
      expect(report.windows.map((w) => w.agentText.trim())).toEqual(report.windows.map(() => ""))
      expect(cuts.length).toBeGreaterThanOrEqual(3)
      for (const cut of cuts) {
        const span = spanAt(script, cut)
        expect(span.kind, `cut at ${seconds(cut)} s is inside "${span.text}"`).toBe("silence")
        expect(span.end - span.start, `the gap around ${seconds(cut)} s`).toBeGreaterThanOrEqual(
          (PAUSE_MS / 1000) * 24000,
        )
      }
      for (const s of report.switches) {
        expect(s.reason).toBe("pause")
        expect(s.userSilentMs).toBeGreaterThanOrEqual(PAUSE_MS)
        expect(s.agentSilentMs).toBeGreaterThanOrEqual(PAUSE_MS)
        expect(s.compaction.early).toBeDefined() // early compaction is on by default
      }
      for (const w of report.windows.slice(0, -1)) expect(w.inputFrames).toBeGreaterThanOrEqual(WINDOW_FRAMES)
      expect(stdout).toMatch(/… switch \(pause\)/)
    }, 240_000)

    it("switch: fixed cuts every window_frames, sentences or not", async () => {
      const { report, script } = await runOn(bookingConversation, "switch: fixed")
      const cuts = windowCuts(report.windows)
      expect(cuts).toEqual(cuts.map((_, i) => (i + 1) * WINDOW_FRAMES * FRAME_SAMPLES))
      expect(cuts.length).toBeGreaterThanOrEqual(3)
      for (const s of report.switches) expect(s.reason).toBe("duration")
      // The same speech cut blindly: some cuts land inside sentences (what `pause` avoids).
      expect(cuts.some((cut) => spanAt(script, cut).kind === "speech")).toBe(true)
    }, 240_000)

    it("a user who never pauses is cut at max_duration (default 1.5 × the window)", async () => {
      const { report } = await runOn(unbrokenMonologue, "switch: pause")
      const maxFrames = Math.ceil(WINDOW_FRAMES * 1.5)
      expect(report.switches.length).toBeGreaterThanOrEqual(2)
      for (const s of report.switches) {
        expect(s.reason).toBe("max_duration")
        expect(s.userSilentMs).toBeLessThan(PAUSE_MS)
      }
      for (const w of report.windows.slice(0, -1)) expect(w.inputFrames).toBe(maxFrames)
    }, 240_000)
  },
)
