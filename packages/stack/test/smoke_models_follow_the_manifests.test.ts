import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ensureSmokeModels, smokeAssets } from "../src/smokeModels.ts"
import { tempDir } from "./support.ts"

describe("smoke models", () => {
  it("are random checkpoints with the manifests' names, dtypes and shapes, generated once then reused", () => {
    const dir = tempDir("smoke-")
    const first = Effect.runSync(ensureSmokeModels(dir))
    expect(first.generated).toBe(true)
    for (const [file, manifestPath] of [
      [first.mimi, smokeAssets.mimiTensors],
      [first.lm, smokeAssets.lmTensors],
    ] as const) {
      const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as Array<{
        name: string
        dtype: string
        shape: Array<number>
        min: number
        max: number
      }>
      const checkpoint = Checkpoint.openSync(file)
      expect([...checkpoint.names].sort()).toEqual(manifest.map((t) => t.name).sort())
      for (const t of manifest) {
        const info = checkpoint.infoSync(t.name)
        expect(info.dtype).toBe(t.dtype)
        expect(info.shape).toEqual(t.shape)
      }
      // Values stay within the range upstream's random init produced (bf16 rounding aside).
      const usage = manifest.find((t) => t.name.endsWith("cluster_usage"))
      if (usage) {
        const values = checkpoint.float32Sync(usage.name).data
        expect(Math.min(...values)).toBeGreaterThanOrEqual(usage.min)
        expect(Math.max(...values)).toBeLessThanOrEqual(usage.max)
      }
      checkpoint.close()
    }
    const mtime = fs.statSync(first.lm).mtimeMs
    const second = Effect.runSync(ensureSmokeModels(dir))
    expect(second.generated).toBe(false)
    expect(fs.statSync(second.lm).mtimeMs).toBe(mtime)
    expect(path.dirname(second.mimi)).toBe(dir)
  })

  it("keep their bytes for a seed (caches and tests rely on them; change them with GENERATOR_VERSION)", () => {
    const models = Effect.runSync(ensureSmokeModels(tempDir("smoke-bytes-")))
    const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")
    expect(sha256(models.mimi)).toBe("8811bae04d201447c1564cb61a76a1ca07162011765d294f06113255390085b7")
    expect(sha256(models.lm)).toBe("41ecec3ff4149a17dc4c78553c1eb4322cb11a6a50096d1e9ff64244368e4972")
  })

  it("the smoke LM's text vocabulary matches the smoke tokenizer", () => {
    const config = JSON.parse(fs.readFileSync(smokeAssets.lmConfig, "utf8"))
    expect(config.config.text_card).toBe(512)
  })
})
