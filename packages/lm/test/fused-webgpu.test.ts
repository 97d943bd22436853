import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { haveFixtures } from "./support/fixtures.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
const why =
  noWebGpu === undefined ? "" : ` (skipped: no WebGPU adapter: ${noWebGpu.split("\n")[0]!.slice(-80)})`

describe.skipIf(noWebGpu !== undefined)(`the gqa step graph on WebGPU${why}`, () => {
  it.each([
    ["float16", "live"],
    ["float32", "live"],
    ["float16", "capture"],
    ["float32", "capture"],
  ])(
    "gives the CPU provider's text logits and tokens and releases its resident caches without crashing (%s KV, %s steps)",
    (kvCache, steps) => {
      const child = runNodeIsolated(
        [path.join(import.meta.dirname, "child/fused-step-webgpu.ts"), kvCache, steps],
        120_000,
      )
      expect(child).toMatchObject({ signal: null, status: 0 })
      const [difference, tokens, closed] = child.lines
      console.log(difference)
      // The bound of the CPU parity tests of the step graph (stepGraph.test.ts).
      expect(Number(difference!.split(": ")[1])).toBeLessThan(2e-3)
      expect(tokens).toMatch(/^same tokens: true /)
      expect(closed).toBe("closed")
    },
    180_000,
  )
})

describe.skipIf(noWebGpu !== undefined || !haveFixtures)(
  `the fused engine on WebGPU through LmGen${why}`,
  () => {
    it.each([
      ["lm-tiny", "quirk", "float32", "capture", "default"],
      ["lm-tiny-ctx12", "quirk", "float32", "capture", "default"],
      ["lm-tiny-ctx12", "quirk", "float32", "capture", "20"],
      ["lm-tiny", "exact", "float16", "live", "default"],
    ])(
      "passes the upstream fixture scenario (%s, %s window, %s KV, %s steps, cache slots %s): logits within 1e-3 (float16 KV: 2e-2), tokens equal",
      (scenario, window, kvCache, steps, slots) => {
        const child = runNodeIsolated(
          [
            path.join(import.meta.dirname, "child/fused-engine-webgpu.ts"),
            scenario,
            window,
            kvCache,
            steps,
            ...(slots === "default" ? [] : [slots]),
          ],
          240_000,
        )
        expect(child).toMatchObject({ signal: null, status: 0 })
        const result = JSON.parse(child.lines[0]!) as {
          text: number
          audio: number
          tokensEqual: boolean
          ring: boolean
        }
        console.log(`${scenario} ${window} ${kvCache} ${steps} ${slots}: ${child.lines[0]}`)
        const bound = kvCache === "float32" ? 1e-3 : 2e-2
        expect(result.ring).toBe(true)
        expect(result.text).toBeLessThan(bound)
        expect(result.audio).toBeLessThan(bound)
        if (kvCache === "float32") expect(result.tokensEqual).toBe(true)
        expect(child.lines[1]).toBe("closed")
      },
      300_000,
    )
  },
)
