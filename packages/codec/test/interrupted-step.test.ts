import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect, Fiber, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { MimiCodec, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const available = fs.existsSync(path.join(fixtures, "mimi-tiny.json"))
if (!available)
  console.log(
    `skipping ${path.basename(import.meta.filename)}: no Mimi fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`,
  )

describe.skipIf(!available)("an interrupted streaming call", () => {
  it("does not advance the state: the stream continues as if that frame was never sent", async () => {
    const io = Checkpoint.openSync(path.join(fixtures, "mimi-tiny-io.safetensors"))
    const input = io.float32Sync("input_pcm").data
    const codes = io.int32Sync("codes")
    io.close()
    const frames = codes.shape[1]!
    const expected = Array.from({ length: 6 }, (_, t) =>
      Array.from({ length: 8 }, (_, k) => codes.data[k * frames + t]!),
    )
    const frame = (t: number) => input.slice(t * 1920, (t + 1) * 1920)
    const layer = MimiCodec.layer({
      checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
      config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8"))),
    }).pipe(Layer.provide(OrtSession.layerCpu))
    const got = await Effect.runPromise(
      Effect.gen(function* () {
        const codec = yield* MimiCodec
        const out = [[...(yield* codec.encode(frame(0)))]]
        // a frame of garbage whose encode is interrupted while the worker runs it
        const fiber = yield* Effect.forkChild(codec.encode(new Float32Array(1920).fill(0.9)))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(fiber)
        for (let t = 1; t < 6; t++) out.push([...(yield* codec.encode(frame(t)))])
        return out
      }).pipe(Effect.provide(layer)),
    )
    expect(got).toEqual(expected)
  })
})
