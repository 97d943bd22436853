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

  it("takes its sessions' provider from the OrtSession layer when given none: GPU state and forms for a GPU", async () => {
    const opened = (layerProviders: ReadonlyArray<"cpu" | "webgpu">) => {
      const specs: Array<{ stateOnDevice?: boolean }> = []
      // Claims `layerProviders` but opens on the CPU, so that this runs anywhere: what is checked is
      // what the codec asks for.
      const claiming = Layer.effect(
        OrtSession,
        Effect.gen(function* () {
          const real = yield* OrtSession
          return OrtSession.of({
            config: { ...real.config, executionProviders: layerProviders },
            open: (spec) => {
              specs.push(spec)
              return real.open(spec)
            },
          })
        }),
      ).pipe(Layer.provide(OrtSession.layerCpu))
      const layer = MimiCodec.layer({
        checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
        config: MimiConfig.fromJson(
          JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8")),
        ),
      }).pipe(Layer.provide(claiming))
      return Effect.runPromise(
        Effect.scoped(Effect.flatMap(MimiCodec, (codec) => codec.encode(new Float32Array(1920)))).pipe(
          Effect.provide(layer),
          Effect.map(() => specs.map((s) => s.stateOnDevice === true)),
        ),
      )
    }
    expect(await opened(["webgpu", "cpu"])).toEqual([true, true])
    expect(await opened(["cpu"])).toEqual([false, false])
  })
})
