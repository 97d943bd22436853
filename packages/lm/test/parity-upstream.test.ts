import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { haveFixtures, maxLogitErrors, readScenario } from "./support/fixtures.ts"
import { runScenario, type Scenario, scenarioLayer } from "./support/scenario.ts"

const compare = (
  scenario: Scenario,
  result: Effect.Success<ReturnType<typeof runScenario>>,
  skipUserHalfStep15 = false,
) => {
  const frames = scenario.userCodes.length / 8
  expect(result.offset).toBe(scenario.offsetAfterPrompts)
  expect([...result.ring.cache]).toEqual([...scenario.tokenCacheAfterPrompts])
  const { text, audio } = maxLogitErrors(
    scenario,
    result.steps.slice(0, frames),
    skipUserHalfStep15 ? 15 : 16,
  )
  const got = Array.from(
    { length: 17 * frames },
    (_, i) => result.steps[i % frames]!.output![Math.floor(i / frames)]!,
  )
  return { text, audio, tokensEqual: got.every((v, i) => v === scenario.outputTokens[i]), got }
}

describe.skipIf(!haveFixtures)("parity with the upstream PersonaPlex fixtures", () => {
  for (const [name, quirk, weightStorage, engine] of [
    ["lm-tiny", true, "inline", "two-graph"],
    ["lm-tiny-ctx12", true, "inline", "two-graph"],
    ["lm-tiny", false, "inline", "two-graph"],
    ["lm-tiny-ctx12", true, "external", "two-graph"],
    ["lm-tiny", true, "converted", "fused"],
    ["lm-tiny-ctx12", true, "converted", "fused"],
    ["lm-tiny", false, "converted", "fused"],
  ] as const)
    it(`${engine} form, ${name}${quirk ? " (upstreamRingQuirk)" : " (exact window)"}, ${weightStorage} weights: token ring after the prompts, logits within 1e-3, tokens equal`, async () => {
      const scenario = readScenario(name)
      const result = await Effect.runPromise(
        runScenario(scenario).pipe(
          Effect.provide(
            scenarioLayer(scenario, {
              returnLogits: true,
              depformerSteps: 16,
              upstreamRingQuirk: quirk,
              engine,
              ...(weightStorage === "converted" ? {} : { weightStorage }),
            }),
          ),
        ),
      )
      // Without the quirk only depformer step 15 (a user codebook, always overwritten) differs at context 3000.
      const cmp = compare(scenario, result, !quirk)
      console.log(
        `${engine} ${name} quirk=${quirk} ${weightStorage} weights: max |Δ text logits| ${cmp.text.toExponential(2)}, max |Δ audio logits| ${cmp.audio.toExponential(2)}`,
      )
      expect(cmp.text).toBeLessThan(1e-3)
      expect(cmp.audio).toBeLessThan(1e-3)
      expect(cmp.got).toEqual([...scenario.outputTokens])
    })
})
