import { LoopEvent, type RunReport } from "@personaplex/loop"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { deviceLine, formatSummary, makeProgress } from "../src/progress.ts"

const timing = { count: 2, meanMs: 10, p50Ms: 9, p95Ms: 12, p99Ms: 12, maxMs: 12 }
const report: RunReport = {
  version: 1,
  status: "completed",
  startedAt: "2026-01-01T00:00:00.000Z",
  endedAt: "2026-01-01T00:00:01.000Z",
  pace: "fast",
  windowFrames: 2,
  thinkingClipFrames: 3,
  meta: {},
  inputFrames: 4,
  outputFrames: 7,
  windows: [0, 1].map((index) => ({
    index,
    prompt: `<system> prompt ${index} <system>`,
    promptSource: index === 0 ? ("initial" as const) : ("model" as const),
    promptTokens: 5,
    promptMs: 20,
    outputStartFrame: index * 5,
    inputFrames: 2,
    silentOutputFrames: 0,
    agentText: ` words of window ${index}`,
    unknownTextTokens: 0,
    frameTimings: timing,
    lateFrames: 0,
  })),
  switches: [
    {
      afterWindow: 0,
      reason: "pause",
      userSilentMs: 480,
      agentSilentMs: 400,
      compaction: { prompt: "<system> prompt 1 <system>", source: "model", durationMs: 3 },
      clipFrames: 3,
      silenceFrames: 0,
      droppedInputFrames: 0,
      pauseMs: 250,
      compactionWaitMs: 0,
    },
  ],
  transcript: "words of window 0\nwords of window 1",
  timings: {
    wallMs: 160,
    realTimeFactor: 0.29,
    frame: timing,
    encode: timing,
    step: timing,
    decode: timing,
    lateFrames: 0,
    pauseMs: [250],
  },
}

describe("progress display and summary", () => {
  it("prints a line per window start, window end and switch; the status line only on a terminal", () => {
    let clock = 0
    const out: Array<string> = []
    const progress = makeProgress({ live: false, write: (t) => void out.push(t), now: () => clock })
    const events = [
      LoopEvent.RunStarted({ windowFrames: 2, pace: "fast", thinkingClipFrames: 3 }),
      LoopEvent.WindowStarted({
        window: 0,
        prompt: "<system> p <system>",
        promptSource: "initial",
        promptTokens: 5,
        promptMs: 20,
        outputFrame: 0,
      }),
      LoopEvent.FrameProcessed({
        window: 0,
        inputFrame: 0,
        encodeMs: 1,
        stepMs: 2,
        decodeMs: 1,
        totalMs: 4,
        agentAudio: true,
      }),
      LoopEvent.FrameProcessed({
        window: 0,
        inputFrame: 1,
        encodeMs: 1,
        stepMs: 2,
        decodeMs: 1,
        totalMs: 4,
        agentAudio: true,
      }),
      LoopEvent.WindowEnded({ window: 0, inputFrames: 2, agentText: " hello" }),
      LoopEvent.SwitchEnded({
        afterWindow: 0,
        reason: "pause",
        pauseMs: 250,
        clipFrames: 3,
        silenceFrames: 0,
        droppedInputFrames: 0,
      }),
    ]
    for (const e of events) {
      clock += 80
      Effect.runSync(progress.onEvent(e))
    }
    const text = out.join("")
    expect(text).toContain("▶ window 1: initial prompt, 5 tokens, injected in 20 ms")
    expect(text).toContain('■ window 1: 2 frames · "hello"')
    expect(text).toContain("window 1 · 00:00.2 of input")
    expect(text).toContain("RTF")
    expect(text).toContain("… switch (pause): thinking clip 3 frames, 0 silence frames, pause 250 ms")
    expect(text).not.toContain("\r")
  })

  it("the summary gives windows, lengths, real-time factor, pauses, prompts, transcript and paths", () => {
    const summary = formatSummary(report, { output: "/tmp/out.wav", report: "/tmp/report.json" })
    expect(summary).toContain("Run completed")
    expect(summary).toContain("windows        2")
    expect(summary).toContain("output         7 frames (0.56 s) = input + 1 thinking clip(s) of 3 frames")
    const cutShort = formatSummary(
      {
        ...report,
        switches: report.switches.map((s) => ({ ...s, clipFrames: 2, clipCutShort: true as const })),
      },
      { output: "/tmp/out.wav", report: "/tmp/report.json" },
    )
    expect(cutShort).toContain(
      "= input + 1 thinking clip(s) of up to 3 frames (cut short once the next window was ready)",
    )
    expect(summary).toContain("RTF 0.29")
    expect(summary).toContain("pauses         250 ms (pause, compaction 0 ms of it)")
    expect(summary).toContain("2. [model] <system> prompt 1 <system>")
    expect(summary).toContain("1. words of window 0")
    expect(summary).toContain("output audio   /tmp/out.wav")
    expect(summary).toContain("run report     /tmp/report.json")
  })

  it("the device line says what was requested and what each model runs on, and a fallback", () => {
    const lm = { engine: "fused", provider: "webgpu" }
    const codec = { encoder: "webgpu", decoder: "webgpu", form: "captured" }
    expect(deviceLine({ device: "webgpu", lm, codec })).toBe(
      "requested webgpu; LM on webgpu (fused), Mimi on webgpu (captured)",
    )
    expect(
      deviceLine({
        device: "webgpu",
        lm: { engine: "two-graph", provider: "cpu" },
        codec: { encoder: "cpu", decoder: "cpu", form: "host-state" },
      }),
    ).toBe(
      "requested webgpu; LM on cpu (two-graph), Mimi on cpu (host-state): all sessions fell back to cpu (see the warning above)",
    )
    expect(deviceLine({ device: "webgpu", lm, codec: { ...codec, decoder: "cpu", form: "captured" } })).toBe(
      "requested webgpu; LM on webgpu (fused), Mimi's encoder on webgpu, its decoder on cpu (captured): some sessions fell back to cpu (see the warning above)",
    )
    const apart = {
      device: "webgpu",
      codecDevice: "cpu",
      lm,
      codec: { encoder: "cpu", decoder: "cpu", form: "host-state" },
    }
    expect(deviceLine(apart)).toBe(
      "requested webgpu (Mimi cpu); LM on webgpu (fused), Mimi on cpu (host-state)",
    )
    expect(deviceLine({ ...apart, lm: { engine: "fused", provider: "cpu" } })).toBe(
      "requested webgpu (Mimi cpu); LM on cpu (fused), Mimi on cpu (host-state): some sessions fell back to cpu (see the warning above)",
    )
    // a run that ended while loading names only the request
    expect(deviceLine({ device: "webgpu" })).toBe("requested webgpu")
  })
})
