import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import type { LmEngineForm } from "../src/engine/LmEngine.ts"
import { LmGen } from "../src/LmGen.ts"
import { haveFixtures, readScenario } from "./support/fixtures.ts"
import { mimiLayer } from "./support/scenario.ts"

/**
 * The fixture's prompts, then its 30 user frames, SAMPLED (temperature, top-k, Gumbel noise from `seed`);
 * with `forcedText`, each frame's text token is provided (teacher forcing) and the text top-k is 1.
 */
const sampled = (engine: LmEngineForm, seed: number, forcedText?: (frame: number) => number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scenario = readScenario("lm-tiny")
      const gen = yield* LmGen
      yield* gen.prompt({ textTokens: scenario.textPromptTokens, silenceFrames: scenario.silenceFrames })
      const out: string[] = []
      for (let t = 0; t < 30; t++) {
        const codes = Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * 30 + t]!)
        out.push(
          forcedText
            ? `${(yield* gen.stepProvided({ user: codes, text: forcedText(t) })).output}`
            : `${yield* gen.step(codes)}`,
        )
      }
      return out
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          LmGen.layer({
            checkpoint: readScenario("lm-tiny").checkpoint,
            config: readScenario("lm-tiny").config,
            sampling: forcedText ? { seed, topKText: 1 } : { seed },
            engine,
          }),
          mimiLayer(),
        ).pipe(Layer.provide(OrtSession.layerCpu)),
      ),
    ),
  )

describe.skipIf(!haveFixtures)("sampling with a seed", () => {
  it("gives the same tokens on the two-graph and the fused form, and other tokens with another seed", async () => {
    const twoGraph = await sampled("two-graph", 7)
    const fused = await sampled("fused", 7)
    const otherSeed = await sampled("fused", 8)
    expect(fused).toEqual(twoGraph)
    expect(otherSeed).not.toEqual(fused)
  })

  it("conditions the depformer on a forced text token outside the text top-k alike on both forms", async () => {
    // Mostly not the text head's first choice: the fused graph must take them through the noise alone.
    const forcedText = (frame: number) => (frame * 131 + 17) % 1000
    const twoGraph = await sampled("two-graph", 7, forcedText)
    const fused = await sampled("fused", 7, forcedText)
    expect(fused).toEqual(twoGraph)
    // Frame t's provided text is the output of the call after it (upstream-spec §4.6).
    expect(fused.slice(1).map((row) => Number(row.split(",")[0]))).toEqual(
      Array.from({ length: 29 }, (_, t) => forcedText(t)),
    )
  })
})
