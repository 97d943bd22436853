import * as fs from "node:fs"
import * as path from "node:path"
import {
  Checkpoint,
  type ExecutionProvider,
  OrtSession,
  upstreamFixturesDir,
  webGpuUnavailable,
} from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { type GraphForms, MimiCodec, type MimiCodecOptions, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const configPath = path.join(fixtures, "mimi-tiny.json")
const available = fs.existsSync(configPath)
if (!available)
  console.log(`skipping Mimi parity tests: no fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`)

const readIo = () => {
  const io = Checkpoint.openSync(path.join(fixtures, "mimi-tiny-io.safetensors"))
  try {
    return {
      input: io.float32Sync("input_pcm").data,
      codes: io.int32Sync("codes"),
      decoded: io.float32Sync("decoded_pcm").data,
      randomCodes: io.int32Sync("random_codes"),
      randomPcm: io.float32Sync("random_codes_pcm").data,
    }
  } finally {
    io.close()
  }
}

// WebGPU (a GPU, or Mesa's lavapipe) runs the same parity checks with the CPU fallback disabled.
const noWebGpu = available ? webGpuUnavailable() : "no fixtures"
if (available && noWebGpu) console.log(`skipping Mimi parity on WebGPU: ${noWebGpu}`)
// Both forms of the streaming state: here with ring writes by the host, and kept by the worker
// (on the device with a GPU provider) with ring writes in the graph.
// On WebGPU also with graph capture (each step replayed; needs the runtime's native shim).
// The GPU providers' graph forms also run on the CPU.
const cases: ReadonlyArray<{
  provider: ExecutionProvider
  stateOnDevice: boolean
  graphCapture?: boolean
  graphForms?: GraphForms
  name: string
  /** Listed as skipped (the reason is in `name`). */
  skip?: boolean
}> = [
  { provider: "cpu", stateOnDevice: false, name: "cpu, state here" },
  { provider: "cpu", stateOnDevice: true, name: "cpu, state in the worker" },
  { provider: "cpu", stateOnDevice: false, graphForms: "gpu", name: "cpu, GPU graph forms" },
  ...[
    { provider: "webgpu" as const, stateOnDevice: true, name: "webgpu, state on the device" },
    { provider: "webgpu" as const, stateOnDevice: true, graphCapture: true, name: "webgpu, graph capture" },
  ].map((c) =>
    available && noWebGpu
      ? {
          ...c,
          skip: true,
          name: `${c.name}, skipped: no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)}`,
        }
      : c,
  ),
]

const codecLayer = (
  provider: ExecutionProvider,
  stateOnDevice: boolean,
  graphCapture: boolean,
  graphForms: GraphForms | undefined,
  sharedCodes?: MimiCodecOptions["sharedCodes"],
) =>
  MimiCodec.layer({
    ...(sharedCodes ? { sharedCodes } : {}),
    checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
    config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8"))),
    executionProviders: [provider],
    stateOnDevice,
    graphCapture,
    ...(graphForms ? { graphForms } : {}),
    ...(provider === "cpu" ? {} : { disableCpuFallback: true }),
  }).pipe(Layer.provide(OrtSession.layer({ executionProviders: [provider] })))

/** Column `t` of a `[K, F]` matrix. */
const column = (data: Int32Array, rows: number, frames: number, t: number) =>
  Int32Array.from({ length: rows }, (_, k) => data[k * frames + t]!)

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

describe.skipIf(!available).each(cases)(
  "Mimi (mimi-tiny, $name) matches upstream streaming",
  ({ provider, stateOnDevice, graphCapture, graphForms, name, skip }) => {
    const test = skip ? it.skip : it
    const io = available && !skip ? readIo() : undefined
    const run = <A, E>(effect: Effect.Effect<A, E, MimiCodec>) =>
      Effect.runPromise(
        Effect.provide(effect, codecLayer(provider, stateOnDevice, graphCapture ?? false, graphForms)),
      )

    test("streaming encode of input_pcm gives exactly the upstream codes, and again after reset", async () => {
      const { input, codes } = io!
      const [rows, frames] = codes.shape as [number, number]
      const { first, second } = await run(
        Effect.gen(function* () {
          const codec = yield* MimiCodec
          const encodeAll = Effect.forEach(
            Array.from({ length: frames }, (_, t) => t),
            (t) => codec.encode(input.subarray(t * 1920, (t + 1) * 1920)),
          )
          const first = yield* encodeAll
          yield* codec.reset
          const second = yield* encodeAll
          return { first, second }
        }),
      )
      const mismatches = (got: ReadonlyArray<Int32Array>) =>
        got.flatMap((frame, t) =>
          [...frame].flatMap((code, k) =>
            code === codes.data[k * frames + t]
              ? []
              : [`frame ${t} codebook ${k}: ${code} vs ${codes.data[k * frames + t]}`],
          ),
        )
      expect(rows).toBe(8)
      expect(mismatches(first)).toEqual([])
      expect(mismatches(second)).toEqual([])
    })

    for (const [label, pick] of [
      ["codes", (x: NonNullable<typeof io>) => ({ codes: x.codes, pcm: x.decoded })],
      ["random_codes", (x: NonNullable<typeof io>) => ({ codes: x.randomCodes, pcm: x.randomPcm })],
    ] as const)
      test(`streaming decode of ${label} matches upstream within 1e-4, and again after resetDecoder`, async () => {
        const { codes, pcm } = pick(io!)
        const [rows, frames] = codes.shape as [number, number]
        const [decoded, again] = await run(
          Effect.gen(function* () {
            const codec = yield* MimiCodec
            const decodeAll = Effect.gen(function* () {
              const out = new Float32Array(frames * 1920)
              for (let t = 0; t < frames; t++)
                out.set(yield* codec.decode(column(codes.data, rows, frames, t)), t * 1920)
              return out
            })
            const first = yield* decodeAll
            yield* codec.resetDecoder
            return [first, yield* decodeAll] as const
          }),
        )
        const error = maxAbsDiff(decoded, pcm)
        const peak = pcm.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
        console.log(
          `${name}: decode ${label}: max abs error ${error.toExponential(3)} over ${frames} frames (reference peak |x| ${peak.toFixed(3)})`,
        )
        expect(error).toBeLessThan(1e-4)
        expect(maxAbsDiff(again, decoded)).toBe(0)
      })

    test("with shared codes, decodeShared of the codes each encode leaves in the buffer matches upstream's decode", async () => {
      const { input, codes, decoded } = io!
      const frames = codes.shape[1]!
      const shared = { pool: "frame", encoded: "codes", decoded: "codes" }
      const [got, pcm] = await Effect.runPromise(
        Effect.gen(function* () {
          const codec = yield* MimiCodec
          const got: Int32Array[] = []
          const pcm = new Float32Array(frames * 1920)
          for (let t = 0; t < frames; t++) {
            got.push(yield* codec.encode(input.subarray(t * 1920, (t + 1) * 1920)))
            pcm.set(yield* codec.decodeShared, t * 1920)
          }
          return [got, pcm] as const
        }).pipe(
          Effect.provide(codecLayer(provider, stateOnDevice, graphCapture ?? false, graphForms, shared)),
        ),
      )
      expect(got.map((frame) => [...frame].join())).toEqual(
        got.map((_, t) => [...column(codes.data, 8, frames, t)].join()),
      )
      const error = maxAbsDiff(pcm, decoded)
      console.log(`${name}: decodeShared: max abs error ${error.toExponential(3)}`)
      expect(error).toBeLessThan(1e-4)
    })
  },
)

describe.skipIf(!available)("MimiCodec without shared codes", () => {
  it("refuses decodeShared with a typed error naming the missing option", async () => {
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.gen(function* () {
          return yield* (yield* MimiCodec).decodeShared
        }),
      ).pipe(Effect.provide(codecLayer("cpu", false, false, undefined))),
    )
    expect(error._tag).toBe("MimiConfigError")
    expect(error.message).toContain("sharedCodes.decoded")
  })
})
