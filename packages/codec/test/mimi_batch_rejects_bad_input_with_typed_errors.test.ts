import * as fs from "node:fs"
import * as path from "node:path"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { MimiBatch, type MimiBatchShape, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const configPath = path.join(fixtures, "mimi-tiny.json")
const available = fs.existsSync(configPath)
if (!available) console.log(`skipping MimiBatch error tests: no fixtures at ${fixtures}`)

const withBatch = <A, E>(rows: number, use: (batch: MimiBatchShape) => Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        MimiBatch.open({
          checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
          config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8"))),
          executionProviders: ["cpu"],
          rows,
        }),
        use,
      ),
    ).pipe(Effect.provide(OrtSession.layerCpu)),
  )

describe.skipIf(!available)("MimiBatch", () => {
  it("names the problem in a typed error: rows per tick, frame length, code count and range, row index", async () => {
    const errors = await withBatch(2, (batch) =>
      Effect.all([
        Effect.flip(batch.encode([new Float32Array(1920)])),
        Effect.flip(batch.encode([undefined, new Float32Array(1919)])),
        Effect.flip(batch.decode([new Int32Array(7), undefined])),
        Effect.flip(
          batch.decode([undefined, Int32Array.from({ length: 8 }, (_, k) => (k === 3 ? 2048 : 0))]),
        ),
        Effect.flip(batch.resetRow(2)),
        Effect.flip(batch.resetEncoderRow(-1)),
        Effect.flip(batch.resetDecoderRow(0.5)),
      ]),
    )
    expect(errors.map((e) => e._tag)).toEqual([
      "BatchWidthError",
      "FrameLengthError",
      "CodeCountError",
      "CodeRangeError",
      "BatchRowError",
      "BatchRowError",
      "BatchRowError",
    ])
    expect(errors[0]!.message).toMatch(/one entry per row \(2/)
    expect(errors[4]!.message).toBe("Mimi batch row 2 is outside [0, 2)")
  })

  it("refuses a batch of no rows", async () => {
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.scoped(
          MimiBatch.open({
            checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
            config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8"))),
            rows: 0,
          }),
        ),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(error).toMatchObject({ _tag: "MimiConfigError", field: "rows" })
  })

  it("a one-row batch gives nothing back for a padded tick and restarts its stream on a reset", async () => {
    const frame = Float32Array.from({ length: 1920 }, (_, i) => Math.sin(i / 9) * 0.3)
    const [first, padded, afterReset, continued] = await withBatch(1, (batch) =>
      Effect.gen(function* () {
        const first = yield* batch.encode([frame])
        const padded = yield* batch.encode([undefined])
        yield* batch.resetEncoderRow(0)
        const afterReset = yield* batch.encode([frame])
        const continued = yield* batch.encode([frame])
        return [first, padded, afterReset, continued] as const
      }),
    )
    expect(padded).toEqual([undefined])
    expect([...afterReset[0]!]).toEqual([...first[0]!])
    expect(continued[0]).toBeDefined()
  })
})
