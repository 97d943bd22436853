import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Checkpoint,
  type ExecutionProvider,
  makeRng,
  OrtSession,
  upstreamFixturesDir,
  webGpuUnavailable,
} from "@personaplex/runtime"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  type GraphForms,
  MimiBatch,
  MimiCodec,
  MimiConfig,
  type MimiForm,
  writeRandomMimiCheckpoint,
} from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const configPath = path.join(fixtures, "mimi-tiny.json")
const available = fs.existsSync(configPath)
if (!available)
  console.log(`skipping batched Mimi tests: no fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`)
const tiny = () => MimiConfig.fromJson(JSON.parse(fs.readFileSync(configPath, "utf8")))

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mimi-batch-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

/** mimi-tiny's shapes with a 5-step KV ring, which each stream wraps within a few frames. */
const shortRing = () => {
  const base = tiny()
  const config = MimiConfig.validate({ ...base, transformer: { ...base.transformer, context: 5 } })
  const checkpoint = path.join(scratch, "mimi-tiny-ring5.safetensors")
  writeRandomMimiCheckpoint(checkpoint, config, 11)
  return { checkpoint, config }
}

/**
 * Per row, what each tick does: `f` feeds a frame, `.` pads, `r` resets the row and feeds, `x` resets
 * it and pads (its next frame starts the new stream).
 */
const ENCODE_SCHEDULE = ["ffffffffffff", "ff..fffrfff.", ".fffx..fffrf"]
const DECODE_SCHEDULE = ["fff.ffffrfff", ".ffffrf..fff", "ffx...ffffff"]
const TICKS = ENCODE_SCHEDULE[0]!.length

const noWebGpu = available ? webGpuUnavailable() : "no fixtures"
if (available && noWebGpu) console.log(`skipping batched Mimi on WebGPU: ${noWebGpu}`)

const cases: ReadonlyArray<{
  name: string
  provider: ExecutionProvider
  stateOnDevice: boolean
  graphCapture?: boolean
  graphForms?: GraphForms
  ring5?: boolean
  form: MimiForm
  skip?: string
}> = [
  { name: "cpu, state here", provider: "cpu", stateOnDevice: false, form: "host-state" },
  { name: "cpu, state in the worker", provider: "cpu", stateOnDevice: true, form: "host-state" },
  {
    name: "cpu, GPU graph forms",
    provider: "cpu",
    stateOnDevice: false,
    graphForms: "gpu",
    form: "host-state",
  },
  {
    name: "cpu, a 5-step ring that wraps",
    provider: "cpu",
    stateOnDevice: false,
    ring5: true,
    form: "host-state",
  },
  ...[
    {
      name: "webgpu, state on the device",
      provider: "webgpu" as const,
      stateOnDevice: true,
      form: "device-state" as const,
    },
    {
      name: "webgpu, graph capture",
      provider: "webgpu" as const,
      stateOnDevice: true,
      graphCapture: true,
      form: "captured" as const,
    },
  ].map((c) => (available && noWebGpu ? { ...c, skip: `no WebGPU adapter: ${noWebGpu.slice(-80)}` } : c)),
]

/** Row r's audio: the fixture's speech, shifted and scaled per row, plus a little noise of its own. */
const rowAudio = (input: Float32Array, row: number, frameSize: number): Float32Array => {
  const rng = makeRng(100 + row)
  const n = TICKS * frameSize
  return Float32Array.from({ length: n }, (_, i) => {
    const source = input[(i + row * 7 * frameSize) % input.length]!
    return source * (1 - 0.3 * row) + 0.02 * rng()
  })
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** What one row's schedule feeds: per tick the frame index into its own input, or `undefined` where it pads. */
const fedTicks = (schedule: string) =>
  [...schedule].map((action, t) => (action === "f" || action === "r" ? t : undefined))

describe.skipIf(!available).each(cases)(
  "three Mimi streams batched ($name)",
  ({ provider, stateOnDevice, graphCapture, graphForms, ring5, form, skip }) => {
    const test = skip ? it.skip : it
    test(`each row's codes equal, and its PCM is within 1e-4 of, the same stream alone through MimiCodec${skip ? ` (skipped: ${skip})` : ""}`, async () => {
      const { checkpoint, config } = ring5
        ? shortRing()
        : { checkpoint: path.join(fixtures, "mimi-tiny.safetensors"), config: tiny() }
      const { frameSize, numCodebooks } = config
      const io = Checkpoint.openSync(path.join(fixtures, "mimi-tiny-io.safetensors"))
      const input = io.float32Sync("input_pcm").data
      const codeBank = io.int32Sync("random_codes")
      io.close()
      const bankFrames = codeBank.shape[1]!
      const rows = ENCODE_SCHEDULE.length
      const audio = Array.from({ length: rows }, (_, r) => rowAudio(input, r, frameSize))
      const frameOf = (r: number, t: number) => audio[r]!.subarray(t * frameSize, (t + 1) * frameSize)
      const codesOf = (r: number, t: number) =>
        Int32Array.from(
          { length: numCodebooks },
          (_, k) => codeBank.data[k * bankFrames + ((t + 5 * r) % bankFrames)]!,
        )
      const options = {
        checkpoint,
        config,
        executionProviders: [provider],
        stateOnDevice,
        ...(graphCapture ? { graphCapture } : {}),
        ...(graphForms ? { graphForms } : {}),
        ...(provider === "cpu" ? {} : { disableCpuFallback: true }),
      }
      const ort = OrtSession.layer({ executionProviders: [provider] })
      const { batched, alone, batchForm } = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const batch = yield* MimiBatch.open({ ...options, rows })
            const encoded: Array<Array<Int32Array | undefined>> = []
            const decoded: Array<Array<Float32Array | undefined>> = []
            for (let t = 0; t < TICKS; t++) {
              for (let r = 0; r < rows; r++) {
                if ("rx".includes(ENCODE_SCHEDULE[r]![t]!)) yield* batch.resetEncoderRow(r)
                if ("rx".includes(DECODE_SCHEDULE[r]![t]!)) yield* batch.resetDecoderRow(r)
              }
              const frames = ENCODE_SCHEDULE.map((s, r) =>
                fedTicks(s)[t] === undefined ? undefined : frameOf(r, t),
              )
              const codes = DECODE_SCHEDULE.map((s, r) =>
                fedTicks(s)[t] === undefined ? undefined : codesOf(r, t),
              )
              encoded.push([...(yield* batch.encode(frames))])
              decoded.push([...(yield* batch.decode(codes))])
            }
            // Each row alone: the same frames in the same order, a reset wherever the row was reset.
            const alone = yield* Effect.gen(function* () {
              const codec = yield* MimiCodec
              const alone = { codes: [] as Int32Array[][], pcm: [] as Float32Array[][] }
              for (let r = 0; r < rows; r++) {
                yield* codec.reset
                const codes: Int32Array[] = []
                const pcm: Float32Array[] = []
                for (let t = 0; t < TICKS; t++) {
                  if ("rx".includes(ENCODE_SCHEDULE[r]![t]!)) yield* codec.resetEncoder
                  if ("rx".includes(DECODE_SCHEDULE[r]![t]!)) yield* codec.resetDecoder
                  if (fedTicks(ENCODE_SCHEDULE[r]!)[t] !== undefined)
                    codes.push(yield* codec.encode(frameOf(r, t)))
                  if (fedTicks(DECODE_SCHEDULE[r]!)[t] !== undefined)
                    pcm.push(yield* codec.decode(codesOf(r, t)))
                }
                alone.codes.push(codes)
                alone.pcm.push(pcm)
              }
              return alone
            }).pipe(Effect.provide(MimiCodec.layer(options)))
            return { batched: { encoded, decoded }, alone, batchForm: batch.form }
          }),
        ).pipe(Effect.provide(ort)),
      )
      expect(batchForm).toBe(form)
      let worst = 0
      for (let r = 0; r < rows; r++) {
        const codes = batched.encoded.map((tick) => tick[r])
        const pcm = batched.decoded.map((tick) => tick[r])
        // Padding rows get nothing back.
        expect(codes.map((c) => c !== undefined)).toEqual(
          fedTicks(ENCODE_SCHEDULE[r]!).map((t) => t !== undefined),
        )
        expect(pcm.map((p) => p !== undefined)).toEqual(
          fedTicks(DECODE_SCHEDULE[r]!).map((t) => t !== undefined),
        )
        expect(codes.flatMap((c) => (c ? [[...c].join()] : []))).toEqual(
          alone.codes[r]!.map((c) => [...c].join()),
        )
        const fed = pcm.filter((p) => p !== undefined)
        expect(fed.length).toBe(alone.pcm[r]!.length)
        for (const [i, frame] of fed.entries()) worst = Math.max(worst, maxAbsDiff(frame, alone.pcm[r]![i]!))
      }
      console.log(
        `batched Mimi (${provider}${graphCapture ? ", captured" : ""}${ring5 ? ", ring 5" : ""}): PCM max abs diff to the streams alone ${worst.toExponential(3)}`,
      )
      expect(worst).toBeLessThan(1e-4)
    }, 240_000)
  },
)
