import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { AudioSink, AudioWriteError } from "@personaplex/audio-io"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { RunReport } from "../src/report.ts"
import { runConversation } from "../src/runConversation.ts"
import { constantFrame, inputFrames } from "./support/fakes.ts"
import { fakeWorld } from "./support/harness.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "loop-interrupt-"))

describe("interruption", () => {
  it.effect("interrupting during a switch writes the report of everything so far, marked interrupted", () =>
    Effect.gen(function* () {
      const reportPath = path.join(tempDir(), "nested", "report.json")
      const world = fakeWorld(inputFrames(20), { compactor: { delayMs: 60_000 } })
      const fiber = yield* runConversation({
        windowFrames: 4,
        initialPrompt: "Hi.",
        thinkingClip: [constantFrame(-1)],
        reportPath,
      }).pipe(Effect.provide(world.layer), Effect.forkChild)
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)

      const report = JSON.parse(fs.readFileSync(reportPath, "utf8")) as RunReport
      assert.strictEqual(report.status, "interrupted")
      assert.isDefined(report.endedAt)
      assert.strictEqual(report.windows.length, 1)
      assert.strictEqual(report.windows[0]!.inputFrames, 4)
      // The first window's 4 frames and the clip were written before the interruption.
      assert.strictEqual(world.written.length, 5)
      assert.strictEqual(report.outputFrames, 5)
    }),
  )

  it.effect("a failing stage writes the report marked failed with the error", () =>
    Effect.gen(function* () {
      const reportPath = path.join(tempDir(), "report.json")
      const world = fakeWorld(inputFrames(3))
      const exit = yield* runConversation({
        windowFrames: 4,
        initialPrompt: "Hi.",
        thinkingClip: [],
        reportPath,
      }).pipe(
        // The innermost provision wins: a sink that fails replaces the fake world's one.
        Effect.provideService(AudioSink, {
          write: () => Effect.fail(new AudioWriteError({ path: "out.wav", reason: "disk full" })),
          framesWritten: Effect.succeed(0),
        }),
        Effect.provide(world.layer),
        Effect.exit,
      )
      assert.isTrue(exit._tag === "Failure")
      const report = JSON.parse(fs.readFileSync(reportPath, "utf8")) as RunReport
      assert.strictEqual(report.status, "failed")
      assert.include(report.error!, "disk full")
    }),
  )
})
