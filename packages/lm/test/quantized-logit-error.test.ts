import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { haveFixtures, maxLogitErrors, readScenario } from "./support/fixtures.ts"
import { runScenario, runScenarioTeacherForced, scenarioLayer } from "./support/scenario.ts"

/**
 * Bounds over lm-tiny's teacher-forced scenario (the float trajectory fed to the quantized model,
 * so the error is the quantization's, not a diverged conversation's). Random bf16 weights with
 * logits of order 1; measured: see the printed figures.
 */
const BOUNDS = { int8: { text: 0.01, audio: 0.03 }, int4: { text: 0.15, audio: 0.5 } }

describe.skipIf(!haveFixtures)("weight-only quantization of the LM linears on the fixture scenario", () => {
  // The two-graph form quantizes int8 activations too (accuracy level 4); the fused form does not.
  const forms = [
    ["the two-graph form", {}],
    ["the fused form", { engine: "fused" }],
  ] as const
  for (const quantization of ["int8", "int4"] as const)
    for (const [form, engine] of forms)
      it(`${quantization}, ${form}: runs the scenario; max logit error against the float model is bounded`, async () => {
        const scenario = readScenario("lm-tiny")
        const layer = scenarioLayer(scenario, {
          returnLogits: true,
          depformerSteps: 16,
          upstreamRingQuirk: true,
          quantization,
          ...engine,
        })
        const result = await Effect.runPromise(runScenarioTeacherForced(scenario).pipe(Effect.provide(layer)))
        const free = await Effect.runPromise(runScenario(scenario).pipe(Effect.provide(layer)))
        const frames = result.steps.length
        const { text, audio } = maxLogitErrors(scenario, result.steps, 8)
        let agentEqual = 0
        for (let t = 0; t < frames; t++)
          for (let k = 0; k < 9; k++)
            if (free.steps[t]!.output![k] === scenario.outputTokens[k * frames + t]) agentEqual++
        console.log(
          `${quantization}, ${form}: max |Δ text logits| ${text.toExponential(3)}, max |Δ agent audio logits| ${audio.toExponential(3)}, ` +
            `free-running text+agent tokens equal to float ${agentEqual}/${9 * frames}`,
        )
        expect(free.steps.every((s) => s.output?.length === 17)).toBe(true)
        expect(text).toBeLessThan(BOUNDS[quantization].text)
        expect(audio).toBeLessThan(BOUNDS[quantization].audio)
      })
})
