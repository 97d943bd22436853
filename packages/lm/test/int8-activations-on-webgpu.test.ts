import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { lmCheckpointTensors } from "../src/checkpointTensors.ts"
import { LmConfig } from "../src/LmConfig.ts"
import { writeRandomLmCheckpoint } from "../src/randomCheckpoint.ts"
import { haveFixtures } from "./support/fixtures.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe) and the fixtures' tiny Mimi; skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
const why =
  noWebGpu === undefined ? "" : ` (skipped: no WebGPU adapter: ${noWebGpu.split("\n")[0]!.slice(-80)})`

/** Widths that are multiples of 128 throughout (the integer path's condition): 128, gated hidden 512, depformer 128/256. */
const config = LmConfig.fromJson({
  dim: 128,
  text_card: 1000,
  existing_text_padding_id: 3,
  n_q: 16,
  dep_q: 16,
  card: 2048,
  num_heads: 4,
  num_layers: 2,
  hidden_scale: 6,
  context: 3000,
  max_period: 10000,
  depformer_dim: 128,
  depformer_dim_feedforward: 384,
  depformer_num_heads: 4,
  depformer_num_layers: 2,
  delays: [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
})

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-a8-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.skipIf(noWebGpu !== undefined || !haveFixtures)(`int8 activations on WebGPU${why}`, () => {
  it("change the int8 model's logits (the integer path runs) and stay within three times the error of the int8 weights alone", () => {
    expect(config.ffnHidden % 128).toBe(0)
    const checkpoint = path.join(dir, "lm.safetensors")
    writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(config))
    const child = runNodeIsolated(
      [
        path.join(import.meta.dirname, "child/int8-activations-webgpu.ts"),
        checkpoint,
        JSON.stringify(config),
      ],
      300_000,
    )
    expect(child).toMatchObject({ signal: null, status: 0 })
    console.log(child.lines[0])
    const { int8, int8a8 } = JSON.parse(child.lines[0]!) as Record<
      "int8" | "int8a8",
      { text: number; audio: number }
    >
    expect(int8a8.text).not.toBe(int8.text)
    expect(int8a8.text).toBeLessThan(Math.max(0.05, 3 * int8.text))
    expect(int8a8.audio).toBeLessThan(Math.max(0.1, 3 * int8.audio))
    expect(child.lines[1]).toBe("closed")
  }, 400_000)
})
