import { describe, expect, it } from "vitest"
import { LmConfig } from "../src/LmConfig.ts"
import { integratedLoudness, normalizeLoudness } from "../src/loudness.ts"
import { voiceFrames, wrapWithSystemTags } from "../src/prompts.ts"
import { tinyLmConfig } from "../src/testing.ts"

const sine = (freq: number, amplitude: number, seconds: number, rate = 24000) =>
  Float32Array.from(
    { length: Math.round(seconds * rate) },
    (_, i) => amplitude * Math.sin((2 * Math.PI * freq * i) / rate),
  )

describe("system prompt text (upstream-spec §5.4)", () => {
  it("wraps in <system> tags unless already wrapped, trimming first", () => {
    expect(wrapWithSystemTags("  You are kind. ")).toBe("<system> You are kind. <system>")
    expect(wrapWithSystemTags(" <system> Already. <system>\n")).toBe("<system> Already. <system>")
    expect(wrapWithSystemTags("<system> only a start")).toBe("<system> <system> only a start <system>")
    expect(wrapWithSystemTags("")).toBe("<system>  <system>")
  })
})

describe("voice prompt loudness (upstream-spec §5.1, BS.1770 as pyloudnorm)", () => {
  it("measures a full-scale 1 kHz sine at −3.01 LUFS", () => {
    expect(integratedLoudness(sine(1000, 1, 5), 24000)).toBeCloseTo(-3.01, 1)
  })

  it("gates out silence: a tone with silence around it measures as the tone", () => {
    const tone = sine(1000, 0.1, 2)
    const padded = new Float32Array(24000 * 6)
    padded.set(tone, 24000 * 2)
    // Ungated, a third of the time at tone level would read 4.8 dB lower; edge blocks cost a little.
    expect(Math.abs(integratedLoudness(padded, 24000) - integratedLoudness(tone, 24000))).toBeLessThan(1)
    expect(integratedLoudness(new Float32Array(24000), 24000)).toBe(Number.NEGATIVE_INFINITY)
  })

  it("normalises to −24 LUFS with one gain, leaves silence alone, and frames with a zero-padded tail", () => {
    const quiet = sine(440, 0.01, 1.5)
    const normalized = normalizeLoudness(quiet, 24000)
    expect(integratedLoudness(normalized, 24000)).toBeCloseTo(-24, 6)
    const gain = normalized[100]! / quiet[100]!
    expect(Math.abs(normalized[1234]! / quiet[1234]! - gain)).toBeLessThan(1e-5)
    expect([...normalizeLoudness(new Float32Array(24000), 24000)].every((v) => v === 0)).toBe(true)
    const frames = voiceFrames(quiet)
    expect(frames.length).toBe(19)
    expect(frames.every((f) => f.length === 1920)).toBe(true)
    expect(frames[18]!.subarray(36000 - 18 * 1920).every((v) => v === 0)).toBe(true)
  })
})

describe("LmConfig", () => {
  it("derives the gating widths as upstream (11264 / 2816 for PersonaPlex, 176 / 88 for lm-tiny)", () => {
    expect(LmConfig.personaplex.ffnHidden).toBe(11264)
    expect(LmConfig.personaplex.depformerFfnHidden).toBe(2816)
    const tiny = tinyLmConfig
    expect([tiny.ffnHidden, tiny.depformerFfnHidden]).toEqual([176, 88])
  })

  it("names the field it cannot use", () => {
    expect(() => LmConfig.fromJson({ dim: "wide" })).toThrow(/"dim": expected a number/)
    expect(() => LmConfig.fromJson({ ...{ gating: "gelu" } })).toThrow(/"gating": only "silu"/)
  })
})
