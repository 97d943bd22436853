import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoint, OrtSession, writeSafetensors } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { MoshiLm } from "../src/MoshiLm.ts"
import { haveFixtures, maxAbsDiff, readScenario, tinyCheckpoint } from "./support/fixtures.ts"

/** lm-tiny cut down to an 8-step depformer, the layout upstream's loader patches (upstream-spec §3.9). */
const eightStepCopy = (file: string) => {
  const source = Checkpoint.openSync(tinyCheckpoint)
  const keep = (name: string) => {
    const m = /(?:gating|linears|depformer_in|depformer_emb)\.(\d+)\./.exec(name)
    return !m || Number(m[1]) < (name.startsWith("depformer_emb") ? 7 : 8)
  }
  const tensors = source.names.filter(keep).map((name) => {
    const t = source.readSync(name)
    if (/^depformer\.layers\.\d+\.self_attn\./.test(name)) {
      const rows = t.shape[0]! / 2
      return {
        name,
        dtype: "BF16" as const,
        shape: [rows, t.shape[1]!],
        data: (t.data as Uint16Array).slice(0, rows * t.shape[1]!),
      }
    }
    return { name, dtype: "BF16" as const, shape: [...t.shape], data: t.data }
  })
  source.close()
  writeSafetensors(file, tensors)
  return file
}

describe.skipIf(!haveFixtures)("an 8-step depformer checkpoint", () => {
  it("runs the 8 agent steps exactly as the 16-step checkpoint; 16 steps fail naming the table upstream leaves uninitialised", async () => {
    const { config } = readScenario("lm-tiny")
    const small = eightStepCopy(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lm8-")), "lm8.safetensors"))
    const greedy = (vocab: number) => ({ temperature: 1, topK: 1, noise: new Float32Array(vocab) })
    const run = (checkpoint: string, depformerSteps: 8 | 16) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const lm = yield* MoshiLm.make({ checkpoint, config, depformerSteps })
            const tokens = Int32Array.from({ length: 17 }, (_, k) => (k * 101) % 1000)
            const t = yield* lm.temporal({ tokens, text: greedy(config.textCard) })
            const forced = Int32Array.from({ length: 16 }, (_, k) => (k * 37) % 2048)
            const mask = Uint8Array.from({ length: 16 }, (_, k) => (k % 2 ? 1 : 0))
            return yield* lm.depformer({
              hidden: t.hidden,
              text: 7,
              forced,
              forcedMask: mask,
              audio: greedy(depformerSteps * config.card),
              returnLogits: true,
            })
          }),
        ).pipe(Effect.provide(OrtSession.layerCpu)),
      )
    const full = await run(tinyCheckpoint, 16)
    const patched = await run(small, 8)
    const agent = 8 * config.card
    expect(maxAbsDiff(patched.logits!, full.logits!.subarray(0, agent))).toBe(0)
    expect([...patched.tokens]).toEqual([...full.tokens.subarray(0, 8)])
    // Step 8 needs depformer_emb.7, which an 8-step checkpoint lacks (upstream: "Missing", left uninitialised).
    const error = await run(small, 16).then(
      () => undefined,
      (e: unknown) => String(e),
    )
    expect(error).toMatch(/depformer_emb\.7\.weight.*missing/)
  })
})
