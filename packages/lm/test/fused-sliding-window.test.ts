import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { LmGen, type LmGenOptions } from "../src/LmGen.ts"
import { haveFixtures, maxAbsDiff, readScenario } from "./support/fixtures.ts"
import { mimiLayer } from "./support/scenario.ts"

/** A short prompt, then `frames` steps of the fixture's user codes cycled: every step's logits and tokens. */
const conversation = (options: Partial<LmGenOptions>, frames: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scenario = readScenario("lm-tiny")
      const gen = yield* LmGen
      yield* gen.prompt({ textTokens: scenario.textPromptTokens.subarray(0, 5), silenceFrames: 2 })
      const steps: { text: Float32Array; audio: Float32Array; tokens: string }[] = []
      const n = scenario.userCodes.length / 8
      for (let t = 0; t < frames; t++) {
        const codes = Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * n + (t % n)]!)
        const r = yield* gen.stepFrame(codes)
        if (r.textLogits) steps.push({ text: r.textLogits, audio: r.audioLogits!, tokens: `${r.output}` })
      }
      return { steps, capacity: gen.lm.capacity, form: gen.lm.form }
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          LmGen.layer({
            checkpoint: readScenario("lm-tiny").checkpoint,
            config: readScenario("lm-tiny").config,
            sampling: { useSampling: false },
            returnLogits: true,
            ...options,
          }),
          mimiLayer(),
        ).pipe(Layer.provide(OrtSession.layerCpu)),
      ),
    ),
  )

describe.skipIf(!haveFixtures)("the fused form's sliding window", () => {
  for (const quirk of [false, true])
    it(`context 12${quirk ? " (upstreamRingQuirk)" : ""}: 70 frames through a 20-slot cache that moves every few frames give the two-graph ring's logits and tokens`, async () => {
      const frames = 70
      const base = { context: 12, upstreamRingQuirk: quirk }
      const ring = await conversation({ ...base, engine: "two-graph" }, frames)
      const sliding = await conversation({ ...base, engine: "fused", maxFrames: 20 }, frames)
      expect(sliding.form).toBe("fused")
      expect(sliding.capacity).toBeUndefined()
      expect(sliding.steps).toHaveLength(ring.steps.length)
      let text = 0
      let audio = 0
      for (const [t, s] of sliding.steps.entries()) {
        text = Math.max(text, maxAbsDiff(s.text, ring.steps[t]!.text))
        audio = Math.max(audio, maxAbsDiff(s.audio, ring.steps[t]!.audio))
      }
      console.log(
        `sliding context 12 quirk=${quirk}: max |Δ text logits| ${text.toExponential(2)}, audio ${audio.toExponential(2)}`,
      )
      expect(text).toBeLessThan(1e-4)
      expect(audio).toBeLessThan(1e-4)
      expect(sliding.steps.map((s) => s.tokens)).toEqual(ring.steps.map((s) => s.tokens))
    })
})
