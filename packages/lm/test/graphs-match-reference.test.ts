import { Checkpoint, OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { MoshiLm } from "../src/MoshiLm.ts"
import {
  fixturesDir,
  haveFixtures,
  lcg,
  maxAbsDiff,
  readScenario,
  tinyCheckpoint,
} from "./support/fixtures.ts"
import { ReferenceLm } from "./support/reference.ts"

const greedy = (vocab: number) => ({ temperature: 1, topK: 1, noise: new Float32Array(vocab) })

describe.skipIf(!haveFixtures)(
  `temporal and depformer graphs vs a plain-JS reference (${fixturesDir})`,
  () => {
    const { config } = haveFixtures ? readScenario("lm-tiny") : ({} as never)

    for (const quirk of [false, true])
      it(`match for 10 steps past a KV ring of 4 wrapping (upstreamRingQuirk ${quirk})`, async () => {
        const ckpt = Checkpoint.openSync(tinyCheckpoint)
        const ref = new ReferenceLm(ckpt, config, 4, quirk)
        ckpt.close()
        const rand = lcg(quirk ? 7 : 3)
        const errors = await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const lm = yield* MoshiLm.make({
                checkpoint: tinyCheckpoint,
                config,
                context: 4,
                depformerSteps: 16,
                upstreamRingQuirk: quirk,
              })
              let text = 0
              let hidden = 0
              let audio = 0
              for (let step = 0; step < 10; step++) {
                const tokens = Int32Array.from({ length: 17 }, (_, k) =>
                  rand() < 0.1 ? -1 : Math.floor(rand() * (k === 0 ? config.textCard + 1 : config.card + 1)),
                )
                const extra =
                  step === 2 ? Float32Array.from({ length: config.dim }, () => rand() - 0.5) : undefined
                const got = yield* lm.temporal({
                  tokens,
                  text: greedy(config.textCard),
                  returnLogits: true,
                  ...(extra ? { extraEmbedding: extra } : {}),
                })
                const want = ref.temporal(tokens, extra)
                text = Math.max(text, maxAbsDiff(got.textLogits!, want.textLogits))
                hidden = Math.max(hidden, maxAbsDiff(got.hidden, want.hidden))
                expect(got.textToken).toBe(want.textToken)
                const forced = Int32Array.from({ length: 16 }, () => Math.floor(rand() * config.card))
                const mask = Uint8Array.from({ length: 16 }, (_, s) => (s >= 8 || rand() < 0.3 ? 1 : 0))
                const dep = yield* lm.depformer({
                  hidden: got.hidden,
                  text: want.textToken,
                  forced,
                  forcedMask: mask,
                  audio: greedy(16 * config.card),
                  returnLogits: true,
                })
                const wantDep = ref.depformer(got.hidden, want.textToken, forced, mask, 16)
                for (let s = 0; s < 16; s++)
                  audio = Math.max(
                    audio,
                    maxAbsDiff(
                      dep.logits!.subarray(s * config.card, (s + 1) * config.card),
                      wantDep.logits[s]!,
                    ),
                  )
                expect([...dep.tokens]).toEqual(wantDep.tokens)
              }
              return { text, hidden, audio }
            }),
          ).pipe(Effect.provide(OrtSession.layerCpu)),
        )
        console.log(
          `graph vs reference (quirk ${quirk}): text logits ${errors.text.toExponential(2)}, hidden ${errors.hidden.toExponential(2)}, audio logits ${errors.audio.toExponential(2)}`,
        )
        expect(errors.text).toBeLessThan(1e-4)
        expect(errors.hidden).toBeLessThan(1e-4)
        expect(errors.audio).toBeLessThan(1e-4)
      })
  },
)
