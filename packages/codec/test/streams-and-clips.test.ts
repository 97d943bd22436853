import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, OrtSession, upstreamFixturesDir } from "@personaplex/runtime"
import { Effect, Layer, Metric, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { CodecMetrics, decodeFrames, encodeFrames, MimiCodec, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const available = fs.existsSync(path.join(fixtures, "mimi-tiny.json"))
if (!available) console.log(`skipping Mimi stream/clip tests: no fixtures at ${fixtures}`)

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

describe.skipIf(!available)("Mimi streams and whole-clip helpers (mimi-tiny)", () => {
  const io = Checkpoint.openSync(path.join(fixtures, "mimi-tiny-io.safetensors"))
  const input = io.float32Sync("input_pcm").data
  const codes = io.int32Sync("codes")
  const decoded = io.float32Sync("decoded_pcm").data
  io.close()
  const [rows, frames] = codes.shape as [number, number]
  const frameList = Array.from({ length: frames }, (_, t) => input.slice(t * 1920, (t + 1) * 1920))
  const codeFrames = Array.from({ length: frames }, (_, t) =>
    Int32Array.from({ length: rows }, (_, k) => codes.data[k * frames + t]!),
  )

  const layer = MimiCodec.layer({
    checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
    config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8"))),
  }).pipe(Layer.provide(OrtSession.layerCpu))
  const run = <A, E>(effect: Effect.Effect<A, E, MimiCodec>) =>
    Effect.runPromise(Effect.provide(effect, layer))

  it("encodeFrames then decodeFrames reproduce the upstream codes and decoded audio", async () => {
    const { encoded, pcm } = await run(
      Effect.gen(function* () {
        const encoded = yield* Stream.runCollect(encodeFrames(Stream.fromIterable(frameList)))
        const pcm = yield* Stream.runCollect(decodeFrames(Stream.fromIterable(encoded)))
        const metrics = {
          encode: yield* Metric.value(CodecMetrics.encodeMs),
          decode: yield* Metric.value(CodecMetrics.decodeMs),
        }
        expect(metrics.encode.count).toBeGreaterThanOrEqual(frames)
        expect(metrics.decode.count).toBeGreaterThanOrEqual(frames)
        console.log(
          `per-frame ms (tiny, via worker): encode mean ${(metrics.encode.sum / metrics.encode.count).toFixed(2)}, decode mean ${(metrics.decode.sum / metrics.decode.count).toFixed(2)}`,
        )
        return { encoded, pcm }
      }),
    )
    expect(encoded.map((c) => [...c])).toEqual(codeFrames.map((c) => [...c]))
    const error = maxAbsDiff(Float32Array.from(pcm.flatMap((f) => [...f])), decoded)
    console.log(`decodeFrames: max abs error ${error.toExponential(3)}`)
    expect(pcm.length).toBe(frames)
    expect(error).toBeLessThan(1e-4)
  })

  it("encodeClip/decodeClip give the same codes and audio, and leave the streaming state alone", async () => {
    const { matrix, pcm, streamed } = await run(
      Effect.gen(function* () {
        const codec = yield* MimiCodec
        const head = yield* Effect.forEach(frameList.slice(0, 3), (f) => codec.encode(f))
        const matrix = yield* codec.encodeClip(input)
        const pcm = yield* codec.decodeClip(matrix)
        const tail = yield* Effect.forEach(frameList.slice(3), (f) => codec.encode(f))
        return { matrix, pcm, streamed: [...head, ...tail] }
      }),
    )
    expect(matrix.numCodebooks).toBe(rows)
    expect(matrix.frames).toBe(frames)
    expect([...matrix.data]).toEqual([...codes.data])
    expect(streamed.map((c) => [...c])).toEqual(codeFrames.map((c) => [...c]))
    const error = maxAbsDiff(pcm, decoded)
    console.log(`decodeClip: max abs error ${error.toExponential(3)}`)
    expect(error).toBeLessThan(1e-4)
  })

  it("encodeClip zero-pads a clip that is not a whole number of frames", async () => {
    const partial = input.slice(0, 1920 * 2 + 100)
    const padded = new Float32Array(1920 * 3)
    padded.set(partial)
    const [a, b] = await run(
      Effect.gen(function* () {
        const codec = yield* MimiCodec
        return [yield* codec.encodeClip(partial), yield* codec.encodeClip(padded)] as const
      }),
    )
    expect(a.frames).toBe(3)
    expect([...a.data]).toEqual([...b.data])
  })
})
