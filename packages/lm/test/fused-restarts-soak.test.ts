import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { LmGen } from "../src/LmGen.ts"
import { haveFixtures, readScenario } from "./support/fixtures.ts"
import { mimiLayer } from "./support/scenario.ts"

const WINDOWS = 1000

// A real collection before each reading, so that the figures are what is kept, not garbage yet to go.
v8.setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

describe.skipIf(!haveFixtures)("a thousand window restarts on the fused form", () => {
  it("prompt, a few frames, (reset,) again and again: the process's memory stays flat after the first windows", async () => {
    const scenario = readScenario("lm-tiny")
    const rssMiB = () => process.memoryUsage().rss / 2 ** 20
    const { early, late, windows } = await Effect.runPromise(
      Effect.gen(function* () {
        const gen = yield* LmGen
        // A 20-frame voice, recorded once: later prompts restore the state after it.
        const voice = yield* gen.recordVoicePrompt(scenario.voicePcm.subarray(0, 20 * 1920))
        const codes = Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * 30]!)
        let early = 0
        let windows = 0
        for (let w = 0; w < WINDOWS; w++) {
          yield* gen.prompt({ voice, textTokens: scenario.textPromptTokens.subarray(0, 8), silenceFrames: 2 })
          for (let t = 0; t < 4; t++) yield* gen.step(codes)
          // Every other window resets too, which drops the kept voice state: both restarts are exercised.
          if (w % 2 === 1) yield* gen.reset
          windows++
          if (w === 99) {
            gc()
            early = rssMiB()
          }
        }
        gc()
        return { early, late: rssMiB(), windows }
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            LmGen.layer({
              checkpoint: scenario.checkpoint,
              config: scenario.config,
              engine: "fused",
              context: 64,
            }),
            mimiLayer(),
          ).pipe(Layer.provide(OrtSession.layerCpu)),
        ),
      ),
    )
    console.log(
      `${windows} restarts on the fused form: RSS ${early.toFixed(1)} MiB after window 100, ${late.toFixed(1)} MiB after window ${windows} (${(late - early).toFixed(1)} MiB more)`,
    )
    expect(windows).toBe(WINDOWS)
    expect(late - early).toBeLessThan(40)
  }, 600_000)
})
