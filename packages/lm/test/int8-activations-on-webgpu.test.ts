import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runNodeIsolated, webGpuUnavailable } from "@personaplex/runtime"
import { afterAll, describe, expect, it } from "vitest"
import { lmCheckpointTensors } from "../src/checkpointTensors.ts"
import type { LmConfig } from "../src/LmConfig.ts"
import { writeRandomLmCheckpoint } from "../src/randomCheckpoint.ts"
import { tinyLmConfig } from "../src/testing.ts"
import { haveFixtures } from "./support/fixtures.ts"

// Needs a WebGPU adapter (a GPU, or Mesa's lavapipe) and the fixtures' tiny Mimi; skipped with the reason otherwise.
const noWebGpu = webGpuUnavailable()
const why =
  noWebGpu === undefined ? "" : ` (skipped: no WebGPU adapter: ${noWebGpu.split("\n")[0]!.slice(-80)})`

/** The tiny architecture with every width a multiple of 128 (the integer path's condition). */
const config: LmConfig = {
  ...tinyLmConfig,
  dim: 128,
  ffnHidden: 512,
  depformerDim: 128,
  depformerFfnHidden: 256,
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-a8-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe.skipIf(noWebGpu !== undefined || !haveFixtures)(`int8 activations on WebGPU${why}`, () => {
  it("change the int8 model's logits (the integer path runs) and stay within three times the error of the int8 weights alone", () => {
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
