import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import {
  type CompactionInput,
  CompactionMetrics,
  type CompactionResult,
  Compactor,
  GenerationError,
  makeCompactor,
  promptWords,
  withDeadline,
} from "../src/index.ts"

const basePersona = "You work for Brightline Dental which is a dental clinic and your name is Maya."
const input: CompactionInput = {
  basePersona,
  previousPrompt: `<system> ${basePersona} Information: The user said: My patient number is 48213. <system>`,
  history: [
    {
      index: 4,
      userText: "Can I come on Thursday at 3 pm?",
      agentText: "I'll book you for Thursday at 3 pm.",
    },
  ],
}

describe("withDeadline", () => {
  it.effect(
    "a compaction past its deadline yields the previous prompt plus a summary, flagged as fallback",
    () =>
      Effect.gen(function* () {
        const interrupted = yield* Deferred.make<void>()
        const slow = {
          compact: () =>
            Effect.sleep("10 seconds").pipe(
              Effect.as({ prompt: "<system> late <system>", source: "model" as const, durationMs: 10_000 }),
              Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)),
            ),
        }
        const fiber = yield* Effect.forkChild(withDeadline("2 seconds")(slow).compact(input))
        yield* TestClock.adjust("2 seconds")
        const result = yield* Fiber.join(fiber)
        assert.strictEqual(result.source, "fallback")
        assert.strictEqual(result.reason, "compaction did not finish within 2000 ms")
        assert.strictEqual(result.durationMs, 2000)
        assert.include(result.prompt, "48213")
        assert.include(result.prompt, "Thursday at 3 pm")
        assert.isTrue(result.prompt.startsWith(`<system> ${basePersona}`))
        // The late compaction is interrupted (a real model's generation is aborted), not left running.
        yield* Deferred.await(interrupted)
      }),
  )

  it.effect("does not wait for a compactor that ignores interruption", () =>
    Effect.gen(function* () {
      const stubborn = { compact: () => Effect.uninterruptible(Effect.never) }
      const fiber = yield* Effect.forkChild(withDeadline("1 second")(stubborn).compact(input))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.source, "fallback")
    }),
  )

  it.effect("a model error yields the fallback at once, with the error as the reason", () =>
    Effect.gen(function* () {
      const failing = {
        compact: () => Effect.fail(new GenerationError({ backend: "llama-cpp", reason: "out of memory" })),
      }
      const before = (yield* Metric.value(CompactionMetrics.fallbacks)).count
      // The guarded compaction cannot fail: its error type is never.
      const guarded: Effect.Effect<CompactionResult> = withDeadline("5 seconds")(failing).compact(input)
      const result = yield* guarded
      assert.strictEqual((yield* Metric.value(CompactionMetrics.fallbacks)).count, before + 1)
      assert.strictEqual(result.source, "fallback")
      assert.strictEqual(result.reason, "llama-cpp generation failed: out of memory")
      assert.strictEqual(result.durationMs, 0)
    }),
  )

  it.effect("a defect (a thrown bug in a custom layer) also yields the fallback", () =>
    Effect.gen(function* () {
      const buggy = { compact: () => Effect.die(new Error("undefined is not a function")) }
      const result = yield* withDeadline("5 seconds")(buggy).compact(input)
      assert.strictEqual(result.source, "fallback")
      assert.include(result.reason, "undefined is not a function")
    }),
  )

  it.effect("an in-time answer passes through, wrapped and cut to the word budget", () =>
    Effect.gen(function* () {
      const verbose = {
        compact: () =>
          Effect.sleep("500 millis").pipe(
            Effect.as({
              prompt: `${basePersona} ${"and more ".repeat(200)}`,
              source: "model" as const,
              durationMs: 500,
            }),
          ),
      }
      const fiber = yield* Effect.forkChild(
        withDeadline("1 second")(verbose).compact({ ...input, wordBudget: 50 }),
      )
      yield* TestClock.adjust("500 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.source, "model")
      assert.strictEqual(promptWords(result.prompt), 50)
      assert.isTrue(result.prompt.startsWith("<system> ") && result.prompt.endsWith(" <system>"))
    }),
  )

  it.effect("Compactor.withDeadline guards a custom layer", () =>
    Effect.gen(function* () {
      const custom = Layer.succeed(Compactor, {
        compact: makeCompactor("custom", () => Effect.sleep("1 minute").pipe(Effect.as("never used"))),
      })
      const program = Effect.gen(function* () {
        const compactor = yield* Compactor
        return yield* compactor.compact(input)
      }).pipe(Effect.provide(custom.pipe(Compactor.withDeadline("3 seconds"))))
      const fiber = yield* Effect.forkChild(program)
      yield* TestClock.adjust("3 seconds")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.source, "fallback")
      assert.strictEqual(result.backend, "fallback")
    }),
  )
})
