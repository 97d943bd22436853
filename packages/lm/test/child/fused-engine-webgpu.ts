// Run by fused-webgpu.test.ts in its own process, so that a crash in onnxruntime's native code fails that
// test instead of killing the test runner. The fixture scenario through LmGen on the fused engine on
// WebGPU (Mimi on the CPU): prints one JSON line (largest text and audio logit differences to upstream's,
// whether the tokens and the token ring after the prompts are upstream's), then "closed" once every
// session is released. Arguments: scenario, "quirk" or "exact", the KV cache's type, "capture" or "live",
// and optionally the cache's slots (`maxFrames`: fewer than the scenario's frames make it slide).
import * as fs from "node:fs"
import * as path from "node:path"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { LmGen } from "../../src/LmGen.ts"
import { fixturesDir, maxLogitErrors, readScenario } from "../support/fixtures.ts"
import { runScenario } from "../support/scenario.ts"

const [name, window, kvCache, steps, slots] = process.argv.slice(2) as [
  "lm-tiny" | "lm-tiny-ctx12",
  string,
  "float16" | "float32",
  string,
  string | undefined,
]
const scenario = readScenario(name)
const layer = Layer.mergeAll(
  LmGen.layer({
    checkpoint: scenario.checkpoint,
    config: scenario.config,
    sampling: { useSampling: false },
    returnLogits: true,
    depformerSteps: 16,
    upstreamRingQuirk: window === "quirk",
    engine: "fused",
    kvCache,
    graphCapture: steps === "capture",
    ...(slots === undefined ? {} : { maxFrames: Number(slots) }),
  }),
  MimiCodec.layer({
    checkpoint: path.join(fixturesDir, "mimi-tiny.safetensors"),
    config: MimiConfig.fromJson(
      JSON.parse(fs.readFileSync(path.join(fixturesDir, "mimi-tiny.json"), "utf8")),
    ),
    executionProviders: ["cpu"],
  }),
).pipe(Layer.provide(OrtSession.layer({ executionProviders: ["webgpu"] })))

const result = await Effect.runPromise(
  Effect.gen(function* () {
    const gen = yield* LmGen
    if (gen.lm.form !== "fused") throw new Error(`the ${gen.lm.form} engine opened`)
    return yield* runScenario(scenario)
  }).pipe(Effect.provide(layer)),
)
const frames = scenario.userCodes.length / 8
// Without the quirk upstream's depformer step 15 (a user codebook, always overwritten) differs.
const { text, audio } = maxLogitErrors(scenario, result.steps.slice(0, frames), window === "quirk" ? 16 : 15)
const got = Array.from(
  { length: 17 * frames },
  (_, i) => result.steps[i % frames]!.output![Math.floor(i / frames)]!,
)
console.log(
  JSON.stringify({
    text,
    audio,
    tokensEqual: got.every((v, i) => v === scenario.outputTokens[i]),
    ring:
      result.offset === scenario.offsetAfterPrompts &&
      [...result.ring.cache].every((v, i) => v === scenario.tokenCacheAfterPrompts[i]),
  }),
)
console.log("closed")
