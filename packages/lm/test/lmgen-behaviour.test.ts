import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MimiCodec } from "@personaplex/codec"
import { OrtSession } from "@personaplex/runtime"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { LmGen } from "../src/LmGen.ts"
import { LmMetrics } from "../src/metrics.ts"
import { generateFrames } from "../src/streams.ts"
import { loadVoicePrompt, saveVoicePrompt, VoicePrompt } from "../src/VoicePrompt.ts"
import { haveFixtures, maxAbsDiff, readScenario } from "./support/fixtures.ts"
import { mimiLayer, runScenario, type Scenario, scenarioLayer } from "./support/scenario.ts"

const run = <A, E>(
  effect: Effect.Effect<A, E, LmGen | MimiCodec>,
  scenario: Scenario,
  options: Parameters<typeof scenarioLayer>[1] = {},
) => Effect.runPromise(effect.pipe(Effect.provide(scenarioLayer(scenario, options))))

const userFrame = (scenario: Scenario, t: number) => {
  const frames = scenario.userCodes.length / 8
  return Int32Array.from({ length: 8 }, (_, q) => scenario.userCodes[q * frames + t]!)
}

describe.skipIf(!haveFixtures)("LmGen", () => {
  const scenario = haveFixtures ? readScenario("lm-tiny") : ({} as Scenario)

  it("a cached voice prompt (saved, loaded, replayed) leaves the same state as encoding the audio", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "voice-")), "voice.safetensors")
    const { viaAudio, viaCache, recorded } = await run(
      Effect.gen(function* () {
        const gen = yield* LmGen
        const recorded = yield* gen.recordVoicePrompt(scenario.voicePcm)
        yield* saveVoicePrompt(file, recorded)
        const loaded = yield* loadVoicePrompt(file, gen.config.dim)
        const follow = Effect.gen(function* () {
          const ring = yield* gen.tokenRing
          const steps = []
          for (let t = 0; t < 4; t++) steps.push(yield* gen.stepFrame(userFrame(scenario, t)))
          return { ring, steps }
        })
        const system = { textTokens: scenario.textPromptTokens }
        yield* gen.prompt({ ...system, voice: VoicePrompt.audio(scenario.voicePcm) })
        const viaAudio = yield* follow
        yield* gen.prompt({ ...system, voice: loaded })
        const viaCache = yield* follow
        return { viaAudio, viaCache, recorded }
      }),
      scenario,
      { returnLogits: true },
    )
    // 36000 samples → 19 voice frames; the first never reaches the model.
    expect(recorded.frames).toBe(18)
    expect(viaCache.ring).toEqual(viaAudio.ring)
    expect([...viaCache.ring.cache]).toEqual([...scenario.tokenCacheAfterPrompts])
    for (let t = 0; t < 4; t++) {
      expect([...viaCache.steps[t]!.output!]).toEqual([...viaAudio.steps[t]!.output!])
      expect(maxAbsDiff(viaCache.steps[t]!.textLogits!, viaAudio.steps[t]!.textLogits!)).toBeLessThan(1e-5)
      expect(maxAbsDiff(viaCache.steps[t]!.audioLogits!, viaAudio.steps[t]!.audioLogits!)).toBeLessThan(1e-5)
    }
  })

  it("interrupting a prompt mid voice phase stops it, leaves the LM and the codec reset, and a new prompt still matches upstream", async () => {
    let encodes = 0
    let resets = 0
    const stalled = Deferred.makeUnsafe<void>()
    // A codec whose 6th encode never returns: the prompt is parked there until interrupted.
    const stallingCodec = Layer.effect(
      MimiCodec,
      Effect.gen(function* () {
        const real = yield* MimiCodec
        return MimiCodec.of({
          ...real,
          encode: (frame) =>
            ++encodes === 6 && resets < 3
              ? Effect.andThen(Deferred.succeed(stalled, undefined), Effect.never)
              : real.encode(frame),
          reset: Effect.andThen(
            Effect.sync(() => resets++),
            real.reset,
          ),
        })
      }),
    ).pipe(Layer.provide(mimiLayer()))
    const layer = Layer.mergeAll(
      LmGen.layer({
        checkpoint: scenario.checkpoint,
        config: scenario.config,
        sampling: { useSampling: false },
      }),
      stallingCodec,
    ).pipe(Layer.provide(OrtSession.layerCpu))
    const { exit, ringAfter, positionAfter, resetsAfter, ringFinal } = await Effect.runPromise(
      Effect.gen(function* () {
        const gen = yield* LmGen
        const fiber = yield* Effect.forkChild(
          gen.prompt({ voice: VoicePrompt.audio(scenario.voicePcm), textTokens: scenario.textPromptTokens }),
        )
        yield* Deferred.await(stalled)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        const ringAfter = yield* gen.tokenRing
        const positionAfter = yield* gen.lm.position
        const resetsAfter = resets
        yield* gen.prompt({
          voice: VoicePrompt.audio(scenario.voicePcm),
          textTokens: scenario.textPromptTokens,
        })
        return { exit, ringAfter, positionAfter, resetsAfter, ringFinal: yield* gen.tokenRing }
      }).pipe(Effect.provide(layer)),
    )
    expect(Exit.hasInterrupts(exit)).toBe(true)
    // The voice frames are prefilled once all are encoded: stopped while encoding, nothing ran, and
    // the LM is left reset rather than part way through a prompt.
    expect(ringAfter.offset).toBe(0)
    expect(positionAfter).toBe(0)
    // Reset before the voice phase and again when interrupted.
    expect(resetsAfter).toBe(2)
    expect(ringFinal.offset).toBe(scenario.offsetAfterPrompts)
    expect([...ringFinal.cache]).toEqual([...scenario.tokenCacheAfterPrompts])
  })

  it("with 8 depformer steps (agent only) the outputs equal upstream's 16-step outputs; prompt steps skip the depformer", async () => {
    const depformerRuns = Effect.map(Metric.value(LmMetrics.depformerMs), (s) => s.count)
    const { depformerDelta, ...result } = await run(
      Effect.gen(function* () {
        const before = yield* depformerRuns
        const result = yield* runScenario(scenario)
        return { ...result, depformerDelta: (yield* depformerRuns) - before }
      }),
      scenario,
      { depformerSteps: 8, upstreamRingQuirk: true },
    )
    // Every prompt step has all 17 target tokens provided: only the 30 user frames sample audio.
    expect(depformerDelta).toBe(30)
    const frames = result.steps.length
    const got = Array.from(
      { length: 17 * frames },
      (_, i) => result.steps[i % frames]!.output![Math.floor(i / frames)]!,
    )
    expect(got).toEqual([...scenario.outputTokens])
  })

  it("snapshot after the prompts and restore reproduce the same conversation", async () => {
    const { first, second } = await run(
      Effect.gen(function* () {
        const gen = yield* LmGen
        yield* gen.prompt({
          voice: VoicePrompt.audio(scenario.voicePcm),
          textTokens: scenario.textPromptTokens,
        })
        const saved = yield* gen.snapshot
        const talk = Effect.forEach([0, 1, 2, 3, 4], (t) => gen.step(userFrame(scenario, t)))
        const first = yield* talk
        yield* gen.restore(saved)
        const second = yield* talk
        return { first, second }
      }),
      scenario,
      { sampling: { useSampling: true, seed: 5 } },
    )
    expect(second.map((o) => [...o!])).toEqual(first.map((o) => [...o!]))
  })

  it("sampling is reproducible from the seed, differs across seeds, and top-k 1 equals greedy", async () => {
    const talk = Effect.gen(function* () {
      const gen = yield* LmGen
      yield* gen.prompt({ textTokens: scenario.textPromptTokens })
      return yield* Effect.forEach(
        Array.from({ length: 12 }, (_, t) => t),
        (t) => Effect.map(gen.step(userFrame(scenario, t)), (o) => [...o!]),
      )
    })
    const a = await run(talk, scenario, {
      sampling: { useSampling: true, seed: 1, temp: 1.5, tempText: 1.5 },
    })
    const b = await run(talk, scenario, {
      sampling: { useSampling: true, seed: 1, temp: 1.5, tempText: 1.5 },
    })
    const c = await run(talk, scenario, {
      sampling: { useSampling: true, seed: 2, temp: 1.5, tempText: 1.5 },
    })
    const topOne = await run(talk, scenario, {
      sampling: { useSampling: true, seed: 3, topK: 1, topKText: 1 },
    })
    const greedy = await run(talk, scenario, { sampling: { useSampling: false } })
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
    expect(a).not.toEqual(greedy)
    expect(topOne).toEqual(greedy)
  })

  it("the exact window (default) departs from upstream once the ctx12 ring wraps; the quirk option is what matches", async () => {
    const ctx12 = readScenario("lm-tiny-ctx12")
    const result = await run(runScenario(ctx12), ctx12, { returnLogits: true, depformerSteps: 16 })
    const err = maxAbsDiff(result.steps[0]!.textLogits!, ctx12.textLogits.subarray(0, ctx12.config.textCard))
    console.log(`ctx12 without upstreamRingQuirk: first-step text logit difference ${err.toExponential(2)}`)
    expect(err).toBeGreaterThan(1e-3)
  })

  it("bad input fails with typed errors naming the problem", async () => {
    const errors = await run(
      Effect.gen(function* () {
        const gen = yield* LmGen
        const short = yield* Effect.flip(gen.step(new Int32Array(7)))
        yield* gen.prompt({ textTokens: new Int32Array(0) })
        const range = yield* Effect.flip(gen.step(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 4000)))
        const silence = yield* Effect.flip(gen.prompt({ textTokens: new Int32Array(0), silenceFrames: -1 }))
        const cache = yield* Effect.flip(
          gen.prompt({
            textTokens: new Int32Array(0),
            voice: VoicePrompt.cached(new Float32Array(10), 1, new Int32Array(68)),
          }),
        )
        return [short, range, silence, cache]
      }),
      scenario,
    )
    expect(errors.map((e) => e._tag)).toEqual([
      "LmInputError",
      "LmInputError",
      "LmInputError",
      "LmInputError",
    ])
    expect(errors[0]!.message).toMatch(/userCodes.*expected 8 codes, found 7/)
    expect(errors[1]!.message).toMatch(/code 7 is 4000/)
    const missing = await Effect.runPromise(
      Effect.flip(
        Effect.scoped(LmGen.make({ checkpoint: "/nonexistent/lm.safetensors", config: scenario.config })),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(missing._tag).toBe("LmWeightsError")
    expect(missing.message).toMatch(/nonexistent/)
    const context = await Effect.runPromise(
      Effect.flip(
        Effect.scoped(LmGen.make({ checkpoint: scenario.checkpoint, config: scenario.config, context: 0 })),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(context.message).toMatch(/context/)
  })
})

describe.skipIf(!haveFixtures)("generateFrames", () => {
  it("steps a stream of user frames and emits upstream's output frames", async () => {
    const scenario = readScenario("lm-tiny")
    const frames = scenario.userCodes.length / 8
    const outputs = await run(
      Effect.gen(function* () {
        const gen = yield* LmGen
        yield* gen.prompt({
          voice: VoicePrompt.audio(scenario.voicePcm),
          textTokens: scenario.textPromptTokens,
        })
        const outputs = yield* Stream.runCollect(
          generateFrames(Stream.fromIterable([0, 1, 2, 3].map((t) => userFrame(scenario, t)))),
        )
        const temporal = yield* Metric.value(LmMetrics.temporalMs)
        const prompt = yield* Metric.value(LmMetrics.promptMs)
        // 42 prompt steps that ran the model + 4 frames; one prompt.
        expect(temporal.count).toBeGreaterThanOrEqual(46)
        expect(prompt.count).toBeGreaterThanOrEqual(1)
        return outputs
      }),
      scenario,
    )
    expect(outputs.map((o) => [...o])).toEqual(
      [0, 1, 2, 3].map((t) => Array.from({ length: 17 }, (_, k) => scenario.outputTokens[k * frames + t])),
    )
  })
})
