import * as fs from "node:fs"
import * as path from "node:path"
import { Checkpoint, upstreamFixturesDir } from "@personaplex/runtime"
import { LmConfig } from "../../src/LmConfig.ts"

export const fixturesDir = upstreamFixturesDir()
export const haveFixtures = fs.existsSync(path.join(fixturesDir, "lm-tiny.safetensors"))
if (!haveFixtures)
  console.log(
    `skipping LM fixture tests: no lm-tiny.safetensors in ${fixturesDir} (set PERSONAPLEX_FIXTURES)`,
  )

export const tinyCheckpoint = path.join(fixturesDir, "lm-tiny.safetensors")

export const readScenario = (name: "lm-tiny" | "lm-tiny-ctx12") => {
  const json = JSON.parse(fs.readFileSync(path.join(fixturesDir, `${name}.json`), "utf8"))
  const io = Checkpoint.openSync(path.join(fixturesDir, `${name}-io.safetensors`))
  try {
    return {
      json,
      config: LmConfig.fromJson(json),
      textPromptTokens: Int32Array.from(json.text_prompt_tokens as number[]),
      silenceFrames: json.audio_silence_frame_cnt as number,
      offsetAfterPrompts: json.offset_after_prompts as number,
      checkpoint: path.join(fixturesDir, json.weights as string),
      voicePcm: io.float32Sync("voice_prompt_pcm").data,
      userCodes: io.int32Sync("user_codes").data, // [8, 30]
      outputTokens: io.int32Sync("output_tokens").data, // [17, 30]
      textLogits: io.float32Sync("text_logits").data, // [30, textCard]
      audioLogits: io.float32Sync("audio_logits").data, // [30, 16, card]
      tokenCacheAfterPrompts: io.int32Sync("token_cache_after_prompts").data, // [17, 4]
    }
  } finally {
    io.close()
  }
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

export const lcg = (seed: number) => () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 2 ** 32
}

interface StepLogits {
  readonly textLogits?: Float32Array | undefined
  readonly audioLogits?: Float32Array | undefined
}

/**
 * Largest absolute difference to the fixture's logits over the recorded steps: text logits, and the
 * audio logits of the first `depformerSteps` depformer steps (the fixture holds all 16 per frame).
 */
export const maxLogitErrors = (
  scenario: ReturnType<typeof readScenario>,
  steps: ReadonlyArray<StepLogits>,
  depformerSteps: number,
) => {
  const { textCard, card } = scenario.config
  let text = 0
  let audio = 0
  steps.forEach((step, t) => {
    text = Math.max(
      text,
      maxAbsDiff(step.textLogits!, scenario.textLogits.subarray(t * textCard, (t + 1) * textCard)),
    )
    for (let s = 0; s < depformerSteps; s++) {
      const base = (t * 16 + s) * card
      audio = Math.max(
        audio,
        maxAbsDiff(
          step.audioLogits!.subarray(s * card, (s + 1) * card),
          scenario.audioLogits.subarray(base, base + card),
        ),
      )
    }
  })
  return { text, audio }
}
