import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { lmCheckpointTensors } from "../src/checkpointTensors.ts"
import { LmConfig } from "../src/LmConfig.ts"
import { haveFixtures, tinyCheckpoint } from "./support/fixtures.ts"

const numel = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

describe("the LM checkpoint tensor list of a config", () => {
  it.skipIf(!haveFixtures)("names exactly the tensors of lm-tiny.safetensors, with their shapes", () => {
    const config = LmConfig.fromJson(
      JSON.parse(fs.readFileSync(path.join(upstreamFixturesDir(), "lm-tiny.json"), "utf8")),
    )
    const checkpoint = Checkpoint.openSync(tinyCheckpoint)
    const stored = new Map(checkpoint.names.map((name) => [name, [...checkpoint.infoSync(name).shape]]))
    checkpoint.close()
    const listed = new Map(lmCheckpointTensors(config).map((t) => [t.name, [...t.shape]]))
    expect([...listed.keys()].sort()).toEqual([...stored.keys()].sort())
    for (const [name, shape] of listed) expect(shape, name).toEqual(stored.get(name))
  })

  it("counts upstream's 8,371,408,896 parameters for the PersonaPlex configuration", () => {
    const total = lmCheckpointTensors(LmConfig.personaplex).reduce((sum, t) => sum + numel(t.shape), 0)
    expect(total).toBe(8_371_408_896)
  })
})
