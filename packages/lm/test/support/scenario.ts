import * as fs from "node:fs"
import * as path from "node:path"
import { MimiCodec, MimiConfig } from "@personaplex/codec"
import { OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { LmGen, type LmGenOptions } from "../../src/LmGen.ts"
import { VoicePrompt } from "../../src/VoicePrompt.ts"
import { fixturesDir, type readScenario } from "./fixtures.ts"

export type Scenario = ReturnType<typeof readScenario>

export const mimiLayer = () =>
  MimiCodec.layer({
    checkpoint: path.join(fixturesDir, "mimi-tiny.safetensors"),
    config: MimiConfig.fromJson(
      JSON.parse(fs.readFileSync(path.join(fixturesDir, "mimi-tiny.json"), "utf8")),
    ),
  })

export const scenarioLayer = (scenario: Scenario, options: Partial<LmGenOptions>) =>
  Layer.mergeAll(
    LmGen.layer({
      checkpoint: scenario.checkpoint,
      config: scenario.config,
      sampling: { useSampling: false },
      ...options,
    }),
    mimiLayer(),
  ).pipe(Layer.provide(OrtSession.layerCpu))

/** The fixtures' scenario: prompts (voice from audio, silence, text, silence), then the 30 user frames. */
export const runScenario = (scenario: Scenario) =>
  Effect.gen(function* () {
    const gen = yield* LmGen
    yield* gen.prompt({
      voice: VoicePrompt.audio(scenario.voicePcm),
      textTokens: scenario.textPromptTokens,
      silenceFrames: scenario.silenceFrames,
    })
    const ring = yield* gen.tokenRing
    const frames = scenario.userCodes.length / 8
    const steps = []
    for (let t = 0; t < frames; t++) {
      const codes = Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * frames + t]!)
      steps.push(yield* gen.stepFrame(codes))
    }
    return { ring, steps, offset: ring.offset }
  })

/**
 * The scenario with the fixture's own text and agent tokens forced at every user step, so every
 * step sees upstream's inputs (frame c's tokens are the output of call c + 1, upstream-spec §4.6).
 */
export const runScenarioTeacherForced = (scenario: Scenario) =>
  Effect.gen(function* () {
    const gen = yield* LmGen
    yield* gen.prompt({
      voice: VoicePrompt.audio(scenario.voicePcm),
      textTokens: scenario.textPromptTokens,
      silenceFrames: scenario.silenceFrames,
    })
    const frames = scenario.userCodes.length / 8
    const out = (k: number, t: number) => scenario.outputTokens[k * frames + t]!
    const steps = []
    for (let t = 0; t < frames; t++) {
      const user = Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * frames + t]!)
      const forced =
        t + 1 < frames
          ? { text: out(0, t + 1), agent: Int32Array.from({ length: 8 }, (_, q) => out(1 + q, t + 1)) }
          : {}
      steps.push(yield* gen.stepProvided({ user, ...forced }))
    }
    return { steps }
  })
