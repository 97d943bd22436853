import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  inspectCheckpoints,
  ModelStore,
  patchDepformerSteps,
  readTorchVoicePrompt,
  renderInspection,
  voiceNames,
} from "../src/index.ts"

/** A folder holding the real release (model.safetensors, the Mimi file, the tokenizer, voices.tgz or voices/). */
const modelDir = process.env.PERSONAPLEX_MODEL_DIR
const available = modelDir !== undefined && fs.existsSync(path.join(modelDir, "model.safetensors"))
if (!available)
  console.log(
    "skipping the real-checkpoint tests: set PERSONAPLEX_MODEL_DIR to a folder with the nvidia/personaplex-7b-v1 files",
  )

describe.skipIf(!available)("the real PersonaPlex release", () => {
  it("resolves from the folder, recognises both checkpoints and reports the depformer layout", async () => {
    const files = await Effect.runPromise(
      Effect.flatMap(ModelStore, (store) => store.resolve()).pipe(
        Effect.provide(ModelStore.layerLocal(modelDir!)),
      ),
    )
    const summaries = await Effect.runPromise(inspectCheckpoints(files.lm!))
    console.log(renderInspection(summaries))
    const lm = summaries[0]!
    expect(lm.model).toBe("moshi-lm")
    expect(lm.lm).toMatchObject({
      dim: 4096,
      numLayers: 32,
      textCard: 32000,
      card: 2048,
      depformerDim: 1024,
      depformerLayers: 6,
    })
    const mimi = await Effect.runPromise(inspectCheckpoints(files.mimi!))
    expect(mimi[0]!.model).toBe("mimi")
    const view = await Effect.runPromise(
      Effect.scoped(Effect.flatMap(Checkpoint.open(files.lm!), patchDepformerSteps)),
    )
    expect(view.info("depformer.layers.0.self_attn.in_proj_weight").shape).toEqual([16 * 3 * 1024, 1024])
  })

  it("reads every shipped voice prompt", async () => {
    const files = await Effect.runPromise(
      Effect.flatMap(ModelStore, (store) => store.resolve({ files: ["voices"] })).pipe(
        Effect.provide(ModelStore.layerLocal(modelDir!)),
      ),
    )
    const names = voiceNames(files.voices!)
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) {
      const voice = await Effect.runPromise(readTorchVoicePrompt(path.join(files.voices!, `${name}.pt`)))
      expect(voice.dim).toBe(4096)
      expect(voice.frames).toBeGreaterThan(0)
      expect(voice.cache.length).toBe(17 * 4)
      expect(voice.embeddings.every(Number.isFinite)).toBe(true)
    }
  })
})
