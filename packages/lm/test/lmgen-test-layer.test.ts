import { MimiCodec, type MimiCodecShape } from "@personaplex/codec"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { SILENCE_TOKENS, SINE_TOKENS, TEXT_PAD } from "../src/constants.ts"
import { LmGen } from "../src/LmGen.ts"

/** A codec that encodes every frame to the same codes (the test layer needs one for prompts). */
const fakeCodec = Layer.succeed(
  MimiCodec,
  MimiCodec.of({
    numCodebooks: 8,
    encode: () => Effect.succeed(Int32Array.from(SILENCE_TOKENS)),
    decode: () => Effect.succeed(new Float32Array(1920)),
    resetEncoder: Effect.void,
    resetDecoder: Effect.void,
    reset: Effect.void,
  } as unknown as MimiCodecShape),
)

describe("LmGen.layerTest (no model, no weights)", () => {
  it("keeps upstream's warm-up, prompt offsets and output alignment around a scripted model", async () => {
    const user = (c: number) => Int32Array.from({ length: 8 }, (_, q) => 1000 + 8 * c + q)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const gen = yield* LmGen
        const warmup = [yield* gen.step(user(0)), yield* gen.step(user(1)), yield* gen.step(user(2))]
        yield* gen.prompt({ textTokens: Int32Array.of(10, 11) })
        const offset = (yield* gen.tokenRing).offset
        const talk = [yield* gen.step(user(3)), yield* gen.step(user(4))]
        return { warmup, offset, talk }
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            LmGen.layerTest({
              script: (frame) => ({ text: 500 + frame, agent: SILENCE_TOKENS.map((c) => c + frame) }),
            }),
            fakeCodec,
          ),
        ),
      ),
    )
    expect(result.warmup.slice(0, 2)).toEqual([undefined, undefined])
    expect(result.warmup[2]!.subarray(9)).toEqual(user(1))
    // 6 silence + 2 text + 6 silence, the first swallowed by the warm-up.
    expect(result.offset).toBe(14)
    // The first conversation output is the last prompt frame: PAD, silence, sine.
    expect([...result.talk[0]!]).toEqual([TEXT_PAD, ...SILENCE_TOKENS, ...SINE_TOKENS])
    // Then the model's own frame: text and semantic sampled at the previous call (position 13),
    // acoustic codes at this one (position 14); the user frame given at the previous call.
    expect([...result.talk[1]!]).toEqual([
      513,
      948 + 13,
      ...SILENCE_TOKENS.slice(1).map((c) => c + 14),
      ...user(3),
    ])
  })
})
