import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoint, OrtSession, writeSafetensors } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Quantization } from "../src/graph/quantize.ts"
import type { WeightStorage } from "../src/graph/weights.ts"
import { MoshiLm } from "../src/MoshiLm.ts"
import { haveFixtures, maxAbsDiff, readScenario, tinyCheckpoint } from "./support/fixtures.ts"

const PER_STEP = /(?:gating|linears|depformer_in|depformer_emb)\.(\d+)\./
const PER_STEP_GROUP = /(gating|linears|depformer_in|depformer_emb)\.(\d+)\./
const STACKED = /^depformer\.layers\.\d+\.self_attn\./

/**
 * lm-tiny rewritten in one of the layouts a real checkpoint comes in:
 * - `8-step`: the older Moshi layout (8 per-step modules, self-attention stacked for 8 steps), which
 *   upstream's loader patches to 16 (upstream-spec §3.9); `depformer_emb.7` kept so that 16 steps run;
 * - `8-step-expanded`: the same weights written out as upstream's patch makes them (steps 8..15 copies
 *   of 0..7, self-attention stacked twice): what the in-place patch must compute.
 */
const writeLayout = (layout: "8-step" | "8-step-expanded", file: string) => {
  const source = Checkpoint.openSync(tinyCheckpoint)
  const tensors = []
  for (const name of source.names) {
    const t = source.readSync(name)
    const step = PER_STEP.exec(name)
    const data = t.data as Uint16Array
    if (step && Number(step[1]) >= 8) {
      if (layout === "8-step") continue
      const from = name.replace(
        PER_STEP_GROUP,
        (_m, group: string, i: string) => `${group}.${Number(i) - 8}.`,
      )
      const copy = source.readSync(from)
      tensors.push({ name, dtype: "BF16" as const, shape: [...copy.shape], data: copy.data as Uint16Array })
      continue
    }
    if (STACKED.test(name)) {
      const half = (t.shape[0]! / 2) * t.shape[1]!
      const first = data.slice(0, half)
      const stored = layout === "8-step" ? first : Uint16Array.from([...first, ...first])
      tensors.push({
        name,
        dtype: "BF16" as const,
        shape: [stored.length / t.shape[1]!, t.shape[1]!],
        data: stored,
      })
      continue
    }
    tensors.push({ name, dtype: "BF16" as const, shape: [...t.shape], data })
  }
  source.close()
  writeSafetensors(file, tensors)
  return file
}

const greedy = (vocab: number) => ({ temperature: 1, topK: 1, noise: new Float32Array(vocab) })

/** Three temporal steps and a depformer loop with half the steps forced: logits and tokens. */
const probe = (
  checkpoint: string,
  options: { depformerSteps: 8 | 16; quantization: Quantization; weightStorage: WeightStorage },
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const { config } = readScenario("lm-tiny")
        const lm = yield* MoshiLm.make({ checkpoint, config, ...options })
        let hidden: Float32Array = new Float32Array(0)
        const textLogits: number[] = []
        for (let t = 0; t < 3; t++) {
          const tokens = Int32Array.from({ length: 17 }, (_, k) => (k * 101 + t * 7) % 1000)
          const out = yield* lm.temporal({ tokens, text: greedy(config.textCard), returnLogits: true })
          hidden = out.hidden
          textLogits.push(...out.textLogits!)
        }
        const S = options.depformerSteps
        const depformer = yield* lm.depformer({
          hidden,
          text: 7,
          forced: Int32Array.from({ length: 16 }, (_, k) => (k * 37) % 2048),
          forcedMask: Uint8Array.from({ length: 16 }, (_, k) => (k % 3 === 1 ? 1 : 0)),
          audio: greedy(S * config.card),
          returnLogits: true,
        })
        return {
          textLogits: Float32Array.from(textLogits),
          audioLogits: depformer.logits!,
          tokens: depformer.tokens,
        }
      }),
    ).pipe(Effect.provide(OrtSession.layerCpu)),
  )

describe.skipIf(!haveFixtures)(
  "every weight storage × precision × depformer layout a checkpoint takes",
  () => {
    const dir = haveFixtures ? fs.mkdtempSync(path.join(os.tmpdir(), "lm-matrix-")) : ""
    const checkpoints = haveFixtures
      ? {
          "16-step": tinyCheckpoint,
          "8-step": writeLayout("8-step", path.join(dir, "lm-8step.safetensors")),
          "8-step-expanded": writeLayout("8-step-expanded", path.join(dir, "lm-8step-expanded.safetensors")),
        }
      : ({} as Record<string, string>)
    const cases = [
      ["16-step", 8],
      ["16-step", 16],
      ["8-step", 8],
      ["8-step", 16],
    ] as const
    for (const quantization of ["none", "int8", "int4"] as const)
      for (const [layout, depformerSteps] of cases)
        it(`${layout} checkpoint, ${depformerSteps} depformer steps, ${quantization}: external weights give the inline build's logits and tokens`, async () => {
          const inline = await probe(checkpoints[layout]!, {
            depformerSteps,
            quantization,
            weightStorage: "inline",
          })
          const external = await probe(checkpoints[layout]!, {
            depformerSteps,
            quantization,
            weightStorage: "external",
          })
          expect(maxAbsDiff(external.textLogits, inline.textLogits)).toBeLessThan(1e-5)
          expect(maxAbsDiff(external.audioLogits, inline.audioLogits)).toBeLessThan(1e-5)
          expect([...external.tokens]).toEqual([...inline.tokens])
          if (layout === "8-step" && depformerSteps === 16) {
            // The in-place patch computes what the checkpoint expanded by upstream's loader computes.
            const expanded = await probe(checkpoints["8-step-expanded"]!, {
              depformerSteps,
              quantization,
              weightStorage: "external",
            })
            expect(maxAbsDiff(external.audioLogits, expanded.audioLogits)).toBeLessThan(1e-5)
            expect([...external.tokens]).toEqual([...expanded.tokens])
          }
        })
  },
)
