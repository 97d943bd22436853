import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseRunConfig } from "../src/config.ts"
import { resolveSettings } from "../src/settings.ts"

const settingsOf = (result: ReturnType<typeof resolveSettings>) => {
  if ("problems" in result) throw new Error(result.problems.join("; "))
  return result.settings
}

describe("conversation.switch and early compaction", () => {
  it("defaults: switch at pauses of 400 ms within 1.5 × duration, Silero, early compaction planned at 2 s", () => {
    const s = settingsOf(resolveSettings({ conversation: { duration: 20 } }, {}))
    assert.deepStrictEqual(s.switchPolicy, { mode: "pause", maxWindowFrames: 375 })
    assert.strictEqual(s.vad, "silero")
    assert.deepStrictEqual(s.earlyCompaction, { expectedMs: 2000 })
  })

  it("the keys set the policy; switch: fixed and early_compaction: false restore the old cuts and compaction", () => {
    const s = settingsOf(
      resolveSettings(
        {
          conversation: {
            duration: 10,
            pause_ms: 560,
            max_duration: 16,
            vad: "energy",
            compaction_estimate: 1.5,
            redo_min_words: 6,
          },
        },
        {},
      ),
    )
    assert.deepStrictEqual(s.switchPolicy, { mode: "pause", pauseMs: 560, maxWindowFrames: 200 })
    assert.strictEqual(s.vad, "energy")
    assert.deepStrictEqual(s.earlyCompaction, { expectedMs: 1500, redoMinWords: 6 })
    const fixed = settingsOf(
      resolveSettings({ conversation: { switch: "fixed", early_compaction: false } }, {}),
    )
    assert.deepStrictEqual(fixed.switchPolicy, { mode: "fixed" })
    assert.isUndefined(fixed.earlyCompaction)
  })

  it("clip_min_ms: the part of the thinking clip always played (absent: all of it)", () => {
    assert.strictEqual(
      settingsOf(resolveSettings({ conversation: { clip_min_ms: 240 } }, {})).thinkingClipMinMs,
      240,
    )
    assert.isUndefined(settingsOf(resolveSettings({}, {})).thinkingClipMinMs)
  })

  it("a max_duration shorter than the window is a problem naming the key", () => {
    const result = resolveSettings({ conversation: { duration: 20, max_duration: 12 } }, {})
    assert.isTrue(
      "problems" in result && result.problems.some((p) => p.startsWith("conversation.max_duration:")),
    )
  })

  it.effect("bad values are refused by the schema, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        parseRunConfig("conversation:\n  switch: sometimes\n  pause_ms: 20\n  clip_min_ms: -5\n"),
      )
      const text = error.issues.join("\n")
      assert.include(text, "conversation.switch")
      assert.include(text, "conversation.pause_ms")
      assert.include(text, "conversation.clip_min_ms")
    }),
  )
})
