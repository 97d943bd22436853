import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { MoshiLm, type MoshiLmOptions } from "../src/MoshiLm.ts"
import { haveFixtures, readScenario, tinyCheckpoint } from "./support/fixtures.ts"

describe.skipIf(!haveFixtures)("graph cache (cacheDir)", () => {
  it("reopens quantized graphs from the cache with identical results, and rebuilds when an option changes", async () => {
    const { config } = readScenario("lm-tiny")
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-cache-"))
    const greedy = (vocab: number) => ({ temperature: 1, topK: 1, noise: new Float32Array(vocab) })
    const probe = (options: Partial<MoshiLmOptions>) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const lm = yield* MoshiLm.make({
              checkpoint: tinyCheckpoint,
              config,
              context: 12,
              quantization: "int8",
              cacheDir,
              ...options,
            })
            const logits: number[] = []
            for (let step = 0; step < 3; step++) {
              const tokens = Int32Array.from({ length: 17 }, (_, k) => (k * 37 + step * 11) % 1000)
              const out = yield* lm.temporal({ tokens, text: greedy(config.textCard), returnLogits: true })
              logits.push(...out.textLogits!)
            }
            return { source: lm.graphSource, logits }
          }),
        ).pipe(Effect.provide(OrtSession.layerCpu)),
      )
    const first = await probe({})
    const second = await probe({})
    const changed = await probe({ quantization: "int4" })
    expect(first.source).toBe("built")
    expect(second.source).toBe("cache")
    expect(second.logits).toEqual(first.logits)
    expect(changed.source).toBe("built")
    expect(fs.readdirSync(cacheDir).length).toBe(2)
  })
})
