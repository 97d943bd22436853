// Run by int8-activations-on-webgpu.test.ts in its own process (a crash in onnxruntime's native code
// then fails that test, not the runner). A random LM whose widths are multiples of 128, so that WebGPU
// runs its int8 linears as integer dot products when asked (`MatMulNBits` accuracy level 4 needs
// K % 128 = 0), prompted then stepped on the fused engine on WebGPU: float32, int8, and int8 with int8
// activations. Prints one JSON line: the largest text and audio logit differences of the first step
// after the prompt (which depends on the prompt alone) of int8 and of int8-a8 to float32's, then "closed".
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import type { LmConfig } from "../../src/LmConfig.ts"
import { LmGen, type LmGenOptions } from "../../src/LmGen.ts"
import { mimiLayer } from "../support/scenario.ts"

const [checkpoint, configJson] = process.argv.slice(2) as [string, string]
const config = JSON.parse(configJson) as LmConfig

const firstStep = (options: Partial<LmGenOptions>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const gen = yield* LmGen
      yield* gen.prompt({
        textTokens: Int32Array.from({ length: 12 }, (_, i) => (i * 37) % 900),
        silenceFrames: 2,
      })
      for (;;) {
        const step = yield* gen.stepFrame(Int32Array.from({ length: 8 }, (_, q) => (q * 211) % 2048))
        if (step.ran) return step
      }
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          LmGen.layer({
            checkpoint,
            config,
            engine: "fused",
            returnLogits: true,
            sampling: { useSampling: false },
            kvCache: "float32",
            ...options,
          }),
          mimiLayer(),
        ).pipe(Layer.provide(OrtSession.layer({ executionProviders: ["webgpu"] }))),
      ),
    ),
  )

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0)
const float = await firstStep({})
const errors = async (options: Partial<LmGenOptions>) => {
  const step = await firstStep(options)
  return {
    text: maxDiff(step.textLogits!, float.textLogits!),
    audio: maxDiff(step.audioLogits!, float.audioLogits!),
  }
}
console.log(
  JSON.stringify({
    int8: await errors({ quantization: "int8" }),
    int8a8: await errors({ quantization: "int8", int8Activations: true }),
  }),
)
console.log("closed")
