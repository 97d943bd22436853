import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { ConversationLoop, conversationEvents } from "../src/ConversationLoop.ts"
import type { LoopEvent } from "../src/events.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const options = { windowFrames: 3, initialPrompt: "Hi.", thinkingClip: [constantFrame(-1)] }

describe("events", () => {
  it.effect(
    "the event stream tells windows, text, compactions and switches in order, ending with the report",
    () =>
      Effect.gen(function* () {
        const world = fakeWorld(inputFrames(6))
        const events = yield* Stream.runCollect(conversationEvents(options)).pipe(Effect.provide(world.layer))
        const tags = events.map((e) => e._tag).filter((t) => t !== "FrameProcessed" && t !== "TextPiece")
        assert.deepStrictEqual(tags, [
          "RunStarted",
          "PromptInjected",
          "WindowStarted",
          "WindowEnded",
          "CompactionStarted",
          "CompactionEnded",
          "PromptInjected",
          "SwitchEnded",
          "WindowStarted",
          "WindowEnded",
          "RunEnded",
        ])
        assert.strictEqual(events.filter((e) => e._tag === "FrameProcessed").length, 6)
        const last = events[events.length - 1] as Extract<LoopEvent, { _tag: "RunEnded" }>
        assert.strictEqual(last.report.windows.length, 2)
        const pieces = events.flatMap((e) => (e._tag === "TextPiece" && e.window === 0 ? [e.text] : []))
        assert.strictEqual(pieces.join(""), last.report.windows[0]!.agentText)
        const compacted = events.find((e) => e._tag === "CompactionEnded")!
        assert.strictEqual(
          compacted._tag === "CompactionEnded" && compacted.prompt,
          last.report.windows[1]!.prompt,
        )
      }),
  )

  it.effect("the ConversationLoop service runs with the layers it was built from", () =>
    Effect.gen(function* () {
      const world = fakeWorld(inputFrames(6))
      const seen: Array<string> = []
      const report = yield* Effect.gen(function* () {
        const loop = yield* ConversationLoop
        return yield* loop.run((e) => Effect.sync(() => void seen.push(e._tag)))
      }).pipe(Effect.provide(ConversationLoop.layer(options)), Effect.provide(world.layer))
      assert.strictEqual(report.windows.length, 2)
      assert.strictEqual(seen[seen.length - 1], "RunEnded")
      assert.strictEqual(world.written.length, 7)
    }),
  )
})
