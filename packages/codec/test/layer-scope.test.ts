import * as fs from "node:fs"
import * as path from "node:path"
import { OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { MimiCodec, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const available = fs.existsSync(path.join(fixtures, "mimi-tiny.json"))
if (!available)
  console.log(
    `skipping ${path.basename(import.meta.filename)}: no Mimi fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`,
  )

describe.skipIf(!available)("MimiCodec.layer", () => {
  it("opens its two sessions through OrtSession and releases both when the scope closes", async () => {
    const events: string[] = []
    const recording = Layer.effect(
      OrtSession,
      Effect.gen(function* () {
        const real = yield* OrtSession
        return OrtSession.of({
          config: real.config,
          open: (spec) =>
            Effect.acquireRelease(
              Effect.tap(real.open(spec), () => Effect.sync(() => events.push("open"))),
              () => Effect.sync(() => events.push("release")),
            ),
        })
      }),
    ).pipe(Layer.provide(OrtSession.layerCpu))
    const layer = MimiCodec.layer({
      checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
      config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8"))),
    }).pipe(Layer.provide(recording))
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const codec = yield* MimiCodec
          yield* codec.encode(new Float32Array(1920))
          expect(events).toEqual(["open", "open"])
        }).pipe(Effect.provide(layer)),
      ),
    )
    expect(events).toEqual(["open", "open", "release", "release"])
  })
})
