import * as fs from "node:fs"
import * as path from "node:path"
import {
  type ExecutionProvider,
  OrtSession,
  upstreamFixturesDir,
  webGpuUnavailable,
} from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { MimiCodec, MimiConfig } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const available = fs.existsSync(path.join(fixtures, "mimi-tiny.json"))
if (!available)
  console.log(
    `skipping ${path.basename(import.meta.filename)}: no Mimi fixtures at ${fixtures} (set PERSONAPLEX_FIXTURES)`,
  )

const tiny = () => ({
  checkpoint: path.join(fixtures, "mimi-tiny.safetensors"),
  config: MimiConfig.fromJson(JSON.parse(fs.readFileSync(path.join(fixtures, "mimi-tiny.json"), "utf8"))),
})

/** What the codec says it runs on, over `ort`, with `graphCapture`. */
const described = (ort: Layer.Layer<OrtSession>, graphCapture = false) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.map(MimiCodec, (codec) => ({ providers: codec.providers, form: codec.form })).pipe(
        Effect.provide(
          MimiCodec.layer({ ...tiny(), ...(graphCapture ? { graphCapture } : {}) }).pipe(Layer.provide(ort)),
        ),
      ),
    ),
  )

/** An OrtSession layer that asks for `providers` but opens every session on the CPU (a fallback, anywhere). */
const fallingBack = (providers: ReadonlyArray<ExecutionProvider>) =>
  Layer.effect(
    OrtSession,
    Effect.map(OrtSession, (real) =>
      OrtSession.of({ config: { ...real.config, executionProviders: providers }, open: real.open }),
    ),
  ).pipe(Layer.provide(OrtSession.layerCpu))

const noWebGpu = available ? webGpuUnavailable() : "no fixtures"

describe.skipIf(!available)("MimiCodec names the provider its sessions were opened on", () => {
  it("on the CPU: both sessions on cpu, the state fed from the host", async () => {
    expect(await described(OrtSession.layerCpu)).toEqual({
      providers: { encoder: "cpu", decoder: "cpu" },
      form: "host-state",
    })
  })

  it("WebGPU asked for, the sessions opened on the CPU: it says cpu, not webgpu, and not captured", async () => {
    expect(await described(fallingBack(["webgpu", "cpu"]), true)).toEqual({
      providers: { encoder: "cpu", decoder: "cpu" },
      form: "host-state",
    })
  })

  it.skipIf(noWebGpu !== undefined)(
    `on WebGPU with graph capture: both sessions on webgpu, captured${noWebGpu === undefined ? "" : ` (skipped: ${noWebGpu.slice(-80)})`}`,
    async () => {
      expect(await described(OrtSession.layer({ executionProviders: ["webgpu", "cpu"] }), true)).toEqual({
        providers: { encoder: "webgpu", decoder: "webgpu" },
        form: "captured",
      })
    },
  )
})
