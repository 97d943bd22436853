import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

describe("an empty initial prompt", () => {
  it.effect(
    "injects no text tokens (not `<system>  <system>`), as upstream; the compacted prompt goes in",
    () =>
      Effect.gen(function* () {
        const world = fakeWorld(inputFrames(6))
        const report = yield* runConversation({
          windowFrames: 3,
          initialPrompt: "  ",
          thinkingClip: [constantFrame(-1)],
        }).pipe(Effect.provide(world.layer))

        assert.strictEqual(world.lm.prompts.length, 2)
        assert.strictEqual(world.lm.prompts[0]!.textTokens.length, 0)
        assert.strictEqual(report.windows[0]!.prompt, "")
        assert.strictEqual(report.windows[0]!.promptTokens, 0)
        // the next window's prompt comes from the compactor and is injected as text
        assert.isAbove(world.lm.prompts[1]!.textTokens.length, 0)
        assert.match(report.windows[1]!.prompt, /^<system> .* <system>$/)
      }),
  )
})
