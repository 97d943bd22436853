import { assert, describe, it } from "@effect/vitest"
import { assets } from "@personaplex/audio-io"
import { resolveSettings } from "../src/settings.ts"

const settingsOf = (result: ReturnType<typeof resolveSettings>) => {
  if ("problems" in result) throw new Error(result.problems.join("; "))
  return result.settings
}

describe("settings", () => {
  it("defaults: 20 s windows (250 frames), CPU, the shipped thinking clip, model-free compaction, Hub models", () => {
    const s = settingsOf(resolveSettings({}, {}))
    assert.strictEqual(s.windowFrames, 250)
    assert.strictEqual(s.device, "cpu")
    assert.strictEqual(s.thinkingClip, assets.thinkingWav)
    assert.deepStrictEqual(s.compactor, { _tag: "ModelFree" })
    assert.deepStrictEqual(s.models, { _tag: "Hub" })
    assert.strictEqual(s.pace, "fast")
  })

  it("flags override the file; --window-seconds beats conversation.window_frames beats duration", () => {
    const config = {
      conversation: { duration: 10, window_frames: 7, initial_prompt: "file" },
      sampling: { seed: 1, greedy: true },
    }
    assert.strictEqual(settingsOf(resolveSettings({ conversation: { duration: 12 } }, {})).windowFrames, 150)
    assert.strictEqual(settingsOf(resolveSettings(config, {})).windowFrames, 7)
    const s = settingsOf(resolveSettings(config, { windowSeconds: 2, prompt: "flag", seed: 9 }))
    assert.strictEqual(s.windowFrames, 25)
    assert.strictEqual(s.initialPrompt, "flag")
    assert.deepStrictEqual(s.sampling, { seed: 9, useSampling: false })
  })

  it("cross-field requirements are reported by field", () => {
    const result = resolveSettings(
      { secondary_model: { kind: "llama_cpp" }, model: { lm: "lm.safetensors" } },
      { maxSeconds: -1 },
    )
    assert.isTrue("problems" in result)
    if ("problems" in result) {
      assert.include(result.problems.join("\n"), "secondary_model.path: required when kind is llama_cpp")
      assert.include(result.problems.join("\n"), "model: give all of mimi, lm and tokenizer")
      assert.include(result.problems.join("\n"), "--max-seconds: expected a positive number, got -1")
    }
  })

  it("graph capture comes from runtime.graph_capture or --graph-capture (default on with WebGPU), and only with WebGPU", () => {
    assert.isTrue(settingsOf(resolveSettings({ runtime: { device: "webgpu" } }, {})).graphCapture)
    assert.isFalse(
      settingsOf(resolveSettings({ runtime: { device: "webgpu", graph_capture: false } }, {})).graphCapture,
    )
    assert.isFalse(settingsOf(resolveSettings({}, {})).graphCapture)
    assert.isTrue(
      settingsOf(resolveSettings({ runtime: { device: "webgpu", graph_capture: true } }, {})).graphCapture,
    )
    assert.isTrue(settingsOf(resolveSettings({}, { device: "webgpu", graphCapture: true })).graphCapture)
    const onCpu = resolveSettings({ runtime: { graph_capture: true } }, {})
    assert.deepStrictEqual("problems" in onCpu ? onCpu.problems : [], [
      "runtime.graph_capture: needs device webgpu, the device is cpu",
    ])
  })

  it("int8 activations are the config's choice, off by default", () => {
    assert.isUndefined(settingsOf(resolveSettings({ runtime: { quantization: "int8" } }, {})).int8Activations)
    assert.isTrue(
      settingsOf(resolveSettings({ runtime: { quantization: "int8", int8_activations: true } }, {}))
        .int8Activations,
    )
  })

  it("Mimi runs on the device unless runtime.codec_device puts it on the CPU beside a webgpu LM", () => {
    assert.strictEqual(
      settingsOf(resolveSettings({ runtime: { device: "webgpu" } }, {})).codecDevice,
      "webgpu",
    )
    const apart = settingsOf(
      resolveSettings({ runtime: { device: "webgpu", codec_device: "cpu", codec_threads: 2 } }, {}),
    )
    assert.deepInclude(apart, { device: "webgpu", codecDevice: "cpu", codecThreads: 2, graphCapture: true })
    assert.strictEqual(settingsOf(resolveSettings({}, {})).codecDevice, "cpu")
    const gpuCodecOnCpu = resolveSettings({ runtime: { codec_device: "webgpu" } }, {})
    assert.deepStrictEqual("problems" in gpuCodecOnCpu ? gpuCodecOnCpu.problems : [], [
      "runtime.codec_device: webgpu needs device webgpu, the device is cpu",
    ])
  })

  it("a secondary model and a deadline select the compactor", () => {
    const s = settingsOf(
      resolveSettings(
        { secondary_model: { kind: "openai", url: "http://localhost:8080/v1", deadline: 3 } },
        {},
      ),
    )
    assert.deepStrictEqual(s.compactor, { _tag: "OpenAi", url: "http://localhost:8080/v1", model: "default" })
    assert.strictEqual(s.compactionDeadlineMs, 3000)
  })
})
