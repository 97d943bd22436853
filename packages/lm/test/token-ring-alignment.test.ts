import { describe, expect, it } from "vitest"
import { SILENCE_TOKENS, SINE_TOKENS } from "../src/constants.ts"
import { TokenRing } from "../src/TokenRing.ts"

const DELAYS = [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1]
const user = (c: number) => Array.from({ length: 8 }, (_, q) => 1000 + 8 * c + q)

/** Drive the ring like LMGen with fake samples: text 500 + c, agent codes 100·(q+1) + c. */
const drive = (
  ring: TokenRing,
  calls: number,
  provide: (c: number) => Parameters<TokenRing["prepare"]>[0],
) => {
  const inputs: Int32Array[] = []
  const outputs: Array<Int32Array | undefined> = []
  for (let c = 0; c < calls; c++) {
    const step = ring.prepare(provide(c))
    if (!step) {
      outputs.push(undefined)
      continue
    }
    inputs[c] = step.input
    outputs.push(
      ring.commit(
        500 + c,
        Array.from({ length: 16 }, (_, j) => 100 * (j + 1) + c),
      ),
    )
  }
  return { inputs, outputs }
}

describe("LMGen token ring (upstream-spec §4.3-4.6, Appendix B.4-B.5)", () => {
  it("returns nothing on the first two calls after a reset, then one frame per call", () => {
    const ring = new TokenRing(DELAYS, 32000, 2048)
    const { outputs } = drive(ring, 5, (c) => ({ user: user(c) }))
    expect(outputs.map((o) => o === undefined)).toEqual([true, true, false, false, false])
    ring.reset()
    const again = drive(ring, 3, (c) => ({ user: user(c) }))
    expect(again.outputs.map((o) => o === undefined)).toEqual([true, true, false])
  })

  it("feeds frame c−1 (delay 0) and c−2 (acoustic) at call c and echoes user frame c−1 in the output", () => {
    const ring = new TokenRing(DELAYS, 32000, 2048)
    const { inputs, outputs } = drive(ring, 5, (c) => ({ user: user(c) }))
    expect([...inputs[1]!]).toEqual([32000, ...Array(16).fill(2048)])
    // Call 3: [text₂, agentSem₂, agentAc₁×7, user sem of frame 2, user acoustic of frame 1].
    expect([...inputs[3]!]).toEqual([
      502,
      102,
      ...[2, 3, 4, 5, 6, 7, 8].map((j) => 100 * j + 2),
      1016,
      ...user(1).slice(1),
    ])
    // Output of call 3 = frame 2: text & semantic sampled at call 2, acoustic sampled at call 3, user frame 2.
    expect([...outputs[3]!]).toEqual([502, 102, ...[2, 3, 4, 5, 6, 7, 8].map((j) => 100 * j + 3), ...user(2)])
  })

  it("prompt phases feed [initial], then PAD/SILENCE/SINE with the text ids on stream 0", () => {
    const ring = new TokenRing(DELAYS, 32000, 2048)
    const texts = [3, 3, 77, 78]
    const { inputs } = drive(ring, 5, (c) => ({
      user: SINE_TOKENS,
      agent: SILENCE_TOKENS,
      text: texts[c] ?? 3,
    }))
    expect([...inputs[1]!]).toEqual([32000, ...Array(16).fill(2048)])
    expect([...inputs[2]!]).toEqual([3, 948, ...Array(7).fill(2048), 430, ...Array(7).fill(2048)])
    expect([...inputs[3]!]).toEqual([77, ...SILENCE_TOKENS, ...SINE_TOKENS])
    expect([...inputs[4]!]).toEqual([78, ...SILENCE_TOKENS, ...SINE_TOKENS])
  })

  it("the replay shortcut leaves offset, ring and provided flags as the audio path does (§5.2)", () => {
    const audio = new TokenRing(DELAYS, 32000, 2048)
    const F = 7
    drive(audio, F, (c) => ({ user: SINE_TOKENS, agent: user(c), text: 3 }))
    const replayed = new TokenRing(DELAYS, 32000, 2048)
    replayed.restoreAfterReplay(F - 1, audio.cache)
    expect(replayed.snapshot()).toEqual(audio.snapshot())
  })
})
