import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { describe, expect, it } from "vitest"
import { checkpointTensors, MimiConfig } from "../src/index.ts"

const count = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

describe("Mimi tensor layout (upstream-spec §2.11)", () => {
  it("the PersonaPlex config has the upstream state dict: 318 entries, 79,308,609 parameters, 96,151,393 values", () => {
    const specs = checkpointTensors(MimiConfig.personaplex)
    expect(specs.length).toBe(318)
    expect(specs.filter((s) => !s.name.includes("._codebook.")).reduce((t, s) => t + count(s.shape), 0)).toBe(
      79_308_609,
    )
    expect(specs.reduce((t, s) => t + count(s.shape), 0)).toBe(96_151_393)
    const byName = new Map(specs.map((s) => [s.name, s.shape]))
    expect(byName.get("encoder.model.12.conv.conv.weight")).toEqual([1024, 512, 16])
    expect(byName.get("decoder.model.2.convtr.convtr.weight")).toEqual([1024, 512, 16])
    expect(byName.get("decoder.model.14.conv.conv.weight")).toEqual([1, 64, 3])
    expect(byName.get("upsample.convtr.convtr.convtr.weight")).toEqual([512, 1, 4])
  })

  const fixtures = upstreamFixturesDir()
  if (!fs.existsSync(path.join(fixtures, "mimi-tiny.json")))
    console.log(`skipping the mimi-tiny layout check: no fixtures at ${fixtures}`)
  it.skipIf(!fs.existsSync(path.join(fixtures, "mimi-tiny.json")))(
    "names and shapes equal the upstream mimi-tiny checkpoint exactly",
    () => {
      const config = MimiConfig.fromJson(
        JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8")),
      )
      const checkpoint = Checkpoint.openSync(path.join(fixtures, "mimi-tiny.safetensors"))
      try {
        const actual = Object.fromEntries(checkpoint.names.map((n) => [n, [...checkpoint.infoSync(n).shape]]))
        const expected = Object.fromEntries(checkpointTensors(config).map((s) => [s.name, [...s.shape]]))
        expect(actual).toEqual(expected)
      } finally {
        checkpoint.close()
      }
    },
  )
})
