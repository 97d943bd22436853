import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { patchDepformerSteps, WrongModelError } from "../src/index.ts"
import { writeTinyLm, writeTinyMimi } from "./helpers/tinyModels.ts"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "patch-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
const run = <A, E>(effect: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))
const dd = 8

describe("depformer patch (upstream loader §3.9)", () => {
  const file = path.join(tmp, "lm8.safetensors")
  writeTinyLm(file, 8)

  it("turns an 8-step depformer checkpoint into a 16-step view, steps 8..15 = 0..7", () =>
    run(
      Effect.gen(function* () {
        const checkpoint = yield* Checkpoint.open(file)
        const view = yield* patchDepformerSteps(checkpoint)
        expect(view.report.layout).toBe("8-step")
        expect(view.report.stored).toEqual({ selfAttentionSteps: 8, perStepModuleSteps: 8 })
        expect(view.report.expanded).toEqual([
          "depformer.layers.0.self_attn.in_proj_weight",
          "depformer.layers.0.self_attn.out_proj.weight",
          "depformer.layers.1.self_attn.in_proj_weight",
          "depformer.layers.1.self_attn.out_proj.weight",
        ])
        // upstream reports it too: an 8-step file has depformer_emb 0..6, and step 8's input table has no n-8 source
        expect(view.report.missing).toEqual(["depformer_emb.7.weight"])
        // 8 linears + 8 depformer_in + 7 depformer_emb (8..14) + 2 layers × 8 × 2 gating
        expect(view.report.copied.length).toBe(8 + 8 + 7 + 32)

        const stored = checkpoint.readSync("depformer.layers.1.self_attn.in_proj_weight")
        const inProj = view.readSync("depformer.layers.1.self_attn.in_proj_weight")
        expect(inProj.shape).toEqual([16 * 3 * dd, dd])
        const half = stored.data.length
        expect(inProj.data.subarray(0, half)).toEqual(stored.data)
        expect(inProj.data.subarray(half)).toEqual(stored.data)
        expect(view.info("depformer.layers.0.self_attn.out_proj.weight").shape).toEqual([16 * dd, dd])

        for (const [name, from] of [
          ["linears.8.weight", "linears.0.weight"],
          ["linears.15.weight", "linears.7.weight"],
          ["depformer_in.12.weight", "depformer_in.4.weight"],
          ["depformer_emb.14.weight", "depformer_emb.6.weight"],
          ["depformer.layers.1.gating.9.linear_out.weight", "depformer.layers.1.gating.1.linear_out.weight"],
        ] as const) {
          expect(view.info(name).origin).toEqual({ _tag: "Copied", from })
          expect(view.float32Sync(name).data).toEqual(checkpoint.float32Sync(from).data)
        }
        expect(view.has("depformer_emb.15.weight")).toBe(false)
      }),
    ))

  it("describes patched tensors as byte ranges of the stored ones (no copy)", () =>
    run(
      Effect.gen(function* () {
        const checkpoint = yield* Checkpoint.open(file)
        const view = yield* patchDepformerSteps(checkpoint)
        const name = "depformer.layers.0.self_attn.in_proj_weight"
        const info = checkpoint.infoSync(name)
        const rowBytes = dd * 2
        // step 9's q/k/v rows are step 1's rows of the file
        const step9 = view.rowSegments(name, 9 * 3 * dd, 10 * 3 * dd)
        expect(step9).toEqual([
          { path: info.path, byteOffset: info.byteOffset + 3 * dd * rowBytes, byteLength: 3 * dd * rowBytes },
        ])
        // rows straddling the seam come from the end and the start of the stored tensor
        const seam = view.rowSegments(name, 8 * 3 * dd - 1, 8 * 3 * dd + 1)
        expect(seam.map((s) => s.byteOffset - info.byteOffset)).toEqual([info.byteLength - rowBytes, 0])
        expect(view.info("linears.9.weight").segments).toEqual([
          {
            path: info.path,
            byteOffset: checkpoint.infoSync("linears.1.weight").byteOffset,
            byteLength: 16 * dd * 2,
          },
        ])
      }),
    ))

  it("passes a 16-step checkpoint through unchanged (lm-tiny fixture)", () =>
    run(
      Effect.gen(function* () {
        const checkpoint = yield* Checkpoint.open(path.join(upstreamFixturesDir(), "lm-tiny.safetensors"))
        const view = yield* patchDepformerSteps(checkpoint)
        expect(view.report.layout).toBe("16-step")
        expect(view.report.expanded).toEqual([])
        expect(view.report.copied).toEqual([])
        expect(view.report.missing).toEqual([])
        expect(view.names.length).toBe(checkpoint.names.length)
        expect(view.info("depformer.layers.0.self_attn.in_proj_weight").origin).toEqual({ _tag: "Stored" })
      }),
    ))

  it("reports per-step tensors that neither the file nor the patch provide", () =>
    run(
      Effect.gen(function* () {
        const file7 = path.join(tmp, "lm8-no-emb6.safetensors")
        writeTinyLm(file7, 8)
        const full = yield* Checkpoint.open(file7)
        // drop depformer_emb.6 by rewriting the file without it
        const { writeSafetensors } = yield* Effect.promise(() => import("@personaplex/runtime"))
        const trimmed = path.join(tmp, "trimmed.safetensors")
        writeSafetensors(
          trimmed,
          full.names
            .filter((n) => n !== "depformer_emb.6.weight")
            .map((n) => {
              const info = full.infoSync(n)
              return { name: n, dtype: info.dtype, shape: info.shape, data: full.readSync(n).data }
            }),
        )
        const view = yield* patchDepformerSteps(yield* Checkpoint.open(trimmed))
        expect(view.report.missing).toEqual([
          "depformer_emb.6.weight",
          "depformer_emb.7.weight",
          "depformer_emb.14.weight",
        ])
      }),
    ))

  it("refuses a checkpoint that is not a Moshi LM", () =>
    run(
      Effect.gen(function* () {
        const mimi = path.join(tmp, "mimi.safetensors")
        writeTinyMimi(mimi)
        const error = yield* Effect.flip(patchDepformerSteps(yield* Checkpoint.open(mimi)))
        expect(error).toBeInstanceOf(WrongModelError)
        expect(error.message).toMatch(/expected a Moshi LM checkpoint but found mimi/)
      }),
    ))
})
