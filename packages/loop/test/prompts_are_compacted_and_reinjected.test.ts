import { assert, describe, it } from "@effect/vitest"
import { fallbackPrompt } from "@personaplex/compaction"
import { Effect, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { LoopMetrics } from "../src/metrics.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const clip = [constantFrame(-1), constantFrame(-2)]

describe("prompts across windows", () => {
  it.effect(
    "the compactor sees the persona, the transcript so far and the previous prompt; its prompt is injected",
    () =>
      Effect.gen(function* () {
        const world = fakeWorld(inputFrames(9))
        const report = yield* runConversation({
          windowFrames: 3,
          initialPrompt: "You are a patient teacher.",
          thinkingClip: clip,
          wordBudget: 40,
        }).pipe(Effect.provide(world.layer))

        assert.strictEqual(world.compactions.length, 2)
        const [first, second] = world.compactions
        assert.strictEqual(first!.basePersona, "You are a patient teacher.")
        assert.strictEqual(first!.previousPrompt, "<system> You are a patient teacher. <system>")
        assert.strictEqual(first!.wordBudget, 40)
        assert.deepStrictEqual(
          first!.history.map((h) => h.index),
          [0],
        )
        assert.deepStrictEqual(
          second!.history.map((h) => h.index),
          [0, 1],
        )
        assert.strictEqual(second!.previousPrompt, report.windows[1]!.prompt)

        // The agent text of a window: pieces of non-special tokens only, "▁" already a space.
        assert.match(report.windows[0]!.agentText, /^( w\d+)+$/)
        assert.strictEqual(first!.history[0]!.agentText, report.windows[0]!.agentText)

        assert.deepStrictEqual(
          report.windows.map((w) => w.promptSource),
          ["initial", "model", "model"],
        )
        assert.strictEqual(
          report.windows[2]!.prompt,
          "<system> You are a patient teacher. Summary after 2 windows. <system>",
        )
        // The third injected prompt is the tokenised compacted prompt.
        assert.strictEqual(world.lm.prompts.length, 3)
        assert.strictEqual(world.lm.prompts[2]!.textTokens.length, report.windows[2]!.promptTokens)
        assert.strictEqual(report.windows[2]!.promptTokens, 11)
      }),
  )

  it.effect("a failing compactor falls back to the deterministic summary prompt and the run goes on", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(6), { compactor: { fail: true } })
      const report = yield* runConversation({
        windowFrames: 3,
        initialPrompt: "Hi.",
        thinkingClip: clip,
      }).pipe(Effect.provide(world.layer))
      assert.strictEqual(report.windows.length, 2)
      assert.strictEqual(report.windows[1]!.promptSource, "fallback")
      assert.strictEqual(report.windows[1]!.prompt, fallbackPrompt(world.compactions[0]!))
      assert.include(report.windows[1]!.prompt, "Hi.")
      assert.include(report.switches[0]!.compaction.reason!, "model exploded")
    }),
  )

  it.effect("a compactor slower than the deadline is abandoned for the fallback prompt", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(6), { compactor: { delayMs: 10_000 } })
      const fiber = yield* runConversation({
        windowFrames: 3,
        initialPrompt: "Hi.",
        thinkingClip: clip,
        compactionDeadlineMs: 1500,
      }).pipe(Effect.provide(world.layer), Effect.forkChild)
      yield* TestClock.adjust("2 seconds")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(report.switches[0]!.compaction.source, "fallback")
      assert.include(report.switches[0]!.compaction.reason!, "1500 ms deadline")
      assert.strictEqual(report.windows[1]!.prompt, fallbackPrompt(world.compactions[0]!))
    }),
  )

  it.effect("compaction, pause and per-frame timings are recorded as Effect metrics", () =>
    Effect.gen(function* () {
      const before = yield* Metric.value(LoopMetrics.frameMs)
      const pausesBefore = yield* Metric.value(LoopMetrics.pauseMs)
      const compactionsBefore = yield* Metric.value(LoopMetrics.compactionMs)
      const world = fakeWorld(inputFrames(6))
      yield* runConversation({ windowFrames: 3, initialPrompt: "Hi.", thinkingClip: clip }).pipe(
        Effect.provide(world.layer),
      )
      assert.strictEqual((yield* Metric.value(LoopMetrics.frameMs)).count - before.count, 6)
      assert.strictEqual((yield* Metric.value(LoopMetrics.pauseMs)).count - pausesBefore.count, 1)
      assert.strictEqual((yield* Metric.value(LoopMetrics.compactionMs)).count - compactionsBefore.count, 1)
    }),
  )
})
