import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { lmCheckpointTensors } from "../src/checkpointTensors.ts"
import type { LmConfig } from "../src/LmConfig.ts"
import { writeRandomLmCheckpoint } from "../src/randomCheckpoint.ts"
import { tinyLmConfig } from "../src/testing.ts"
import { alone, inBatch } from "./support/batchIsolation.ts"
import { haveFixtures, readScenario } from "./support/fixtures.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-batch-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
/** The tiny architecture; `textCard` past one TopK pass (2,048) ranks the text head in two levels. */
const randomCheckpoint = (textCard = tinyLmConfig.textCard) => {
  const config: LmConfig = { ...tinyLmConfig, textCard }
  const file = path.join(dir, `random-${textCard}.safetensors`)
  if (!fs.existsSync(file)) writeRandomLmCheckpoint(file, lmCheckpointTensors(config))
  return { checkpoint: file, config }
}

describe("sessions of one batched LM step on the CPU provider", () => {
  it.each([
    ["the tiny random checkpoint, sampled", 4, "sampled", 1000],
    ["the tiny random checkpoint, greedy", 8, "greedy", 1000],
    ["a text vocabulary of 4,000 (two-level top-k), sampled", 4, "sampled", 4000],
  ])(
    "%s (batch of %i): a session gives the tokens it gives alone, whatever the others do (reset, prompt, malformed input, leave, join)",
    async (_, maxSessions, mode, textCard) => {
      const model = randomCheckpoint(textCard)
      const sampling = mode === "greedy" ? { useSampling: false, seed: 3 } : { seed: 3 }
      const solo = await alone({ ...model, sampling }, "cpu")
      const batched = await inBatch({ ...model, sampling }, maxSessions, "cpu", { a: 3, b: 4 })
      // Four sessions at most (E takes D's slot): the graph grew from 2 rows to 4.
      expect(batched.rows).toBe(4)
      expect(batched.malformed).toBe("LmInputError")
      expect(batched.a).toEqual(solo)
      expect(batched.b).not.toEqual(solo)
      // The sessions' steps ran together: 3 to 4 sessions a tick, in far fewer runs than steps.
      expect(batched.counts.steps).toBeGreaterThan(2.5 * batched.counts.runs)
    },
    60_000,
  )

  it.skipIf(!haveFixtures).each([
    ["8 depformer steps", {}],
    ["16 depformer steps, upstream's ring quirk", { depformerSteps: 16 as const, upstreamRingQuirk: true }],
  ])(
    "the upstream fixture with a sliding cache (context 12, %s): a session gives its tokens alone inside a batch",
    async (_, shape) => {
      const scenario = readScenario("lm-tiny-ctx12")
      const model = {
        checkpoint: scenario.checkpoint,
        config: scenario.config,
        sampling: { seed: 3 },
        ...shape,
      }
      const solo = await alone(model, "cpu")
      const batched = await inBatch(model, 4, "cpu", { a: 3, b: 4 })
      expect(batched.a).toEqual(solo)
    },
    60_000,
  )
})

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe); skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
const why =
  noWebGpu === undefined ? "" : ` (skipped: no WebGPU adapter: ${noWebGpu.split("\n")[0]!.slice(-80)})`

describe.skipIf(noWebGpu !== undefined)(`sessions of one batched LM step on WebGPU${why}`, () => {
  it.each([
    ["float16", "sampled", 1000],
    ["float32", "greedy", 1000],
    ["float16", "sampled", 4000],
  ])(
    "the tiny random checkpoint (%s KV, %s, captured steps, text vocabulary %i): a session gives the tokens it gives alone, whatever the others do",
    (kvCache, mode, textCard) => {
      const child = runNodeIsolated(
        [
          path.join(import.meta.dirname, "child/batch-isolation-webgpu.ts"),
          randomCheckpoint(textCard).checkpoint,
          kvCache,
          "4",
          mode,
          String(textCard),
        ],
        240_000,
      )
      expect(child).toMatchObject({ signal: null, status: 0 })
      const result = JSON.parse(child.lines[0]!) as {
        solo: string[]
        a: string[]
        b: string[]
        malformed: string
        rows: number
        counts: { runs: number; steps: number }
      }
      expect(result.rows).toBe(4)
      expect(result.malformed).toBe("LmInputError")
      expect(result.a).toEqual(result.solo)
      expect(result.b).not.toEqual(result.solo)
      expect(result.counts.steps).toBeGreaterThan(2.5 * result.counts.runs)
      expect(child.lines[1]).toBe("closed")
    },
    300_000,
  )
})
