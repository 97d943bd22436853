/**
 * `personaplex run` with `switch: pause` (Silero VAD) on the smoke models, over espeak-ng speech
 * with known gaps. The smoke LM's text is noise, so the agent may never pad: each cut is either in
 * a gap of the user's of at least pause_ms (reason pause) or at max_duration, never anywhere else.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { writeWav } from "@personaplex/audio-io"
import type { RunReport } from "@personaplex/loop"
import { ensureSmokeModels } from "@personaplex/stack"
import { espeakMissing, speakScript } from "@personaplex/vad"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { built, runBin, sharedSmokeCache, tempDir, writeSmokeConfig } from "./support.ts"

const missing = espeakMissing()
if (missing) console.log(`skipping the personaplex run switch-at-pauses test: ${missing}`)

const WINDOW_FRAMES = 12
const MAX_FRAMES = 18 // max_duration's default: 1.5 × the window

describe.skipIf(!built || missing !== undefined)("personaplex run with switch: pause", () => {
  it("cuts in the user's pauses or at max_duration; the report says why, and how long each side was silent", async () => {
    const models = Effect.runSync(Effect.orDie(ensureSmokeModels(sharedSmokeCache)))
    const cwd = tempDir("cli-pause-")
    const script = await Effect.runPromise(
      Effect.orDie(
        speakScript([
          { say: "Could you remind me what we agreed about the budget?" },
          { silenceMs: 1200 },
          { say: "I think it was about two thousand euros." },
          { silenceMs: 1000 },
          { say: "Yes, that sounds right to me." },
          { silenceMs: 800 },
        ]),
      ),
    )
    const input = path.join(cwd, "speech.wav")
    await Effect.runPromise(Effect.orDie(writeWav(input, { sampleRate: 24000, channels: [script.samples] })))
    writeSmokeConfig(cwd, models, [
      "runtime: { threads: 1 }",
      `conversation: { window_frames: ${WINDOW_FRAMES}, switch: pause, pause_ms: 400, vad: silero }`,
    ])
    const run = runBin(["run", "--config", "run.yaml", "--input", input, "--output", "out.wav"], cwd)
    expect(run.status, run.all).toBe(0)
    const report = JSON.parse(fs.readFileSync(path.join(cwd, "out.report.json"), "utf8")) as RunReport
    expect(report.meta.voiceActivity).toBe("silero-v5")
    expect(report.switches.length).toBeGreaterThan(0)
    let cut = 0
    for (const [i, s] of report.switches.entries()) {
      cut += report.windows[i]!.inputFrames * 1920
      expect(s.userSilentMs).toBeTypeOf("number")
      expect(s.agentSilentMs).toBeTypeOf("number")
      expect(s.compaction.early).toBeDefined() // early compaction is on by default
      if (s.reason === "pause") {
        const span = script.spans.find((x) => x.start <= cut && cut < x.end)!
        expect(span.kind, `cut at ${cut / 24000} s`).toBe("silence")
        expect(span.end - span.start).toBeGreaterThanOrEqual(0.4 * 24000)
        expect(s.userSilentMs).toBeGreaterThanOrEqual(400)
      } else {
        expect(s.reason).toBe("max_duration")
        expect(report.windows[i]!.inputFrames).toBe(MAX_FRAMES)
      }
    }
    console.log(
      "personaplex run, switch: pause:",
      report.switches.map((s) => `${s.reason} (user ${s.userSilentMs} ms, agent ${s.agentSilentMs} ms)`),
    )
    expect(run.stdout).toMatch(/… switch \((pause|max_duration)\)/)
  }, 240_000)
})
