import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadRunConfig, parseRunConfig } from "../src/config.ts"

const failure = (yamlText: string) => Effect.flip(parseRunConfig(yamlText, "test.yaml"))

describe("run configuration", () => {
  it.effect("a full config in the documented schema is accepted", () =>
    Effect.gen(function* () {
      const config = yield* parseRunConfig(`
model:
  mimi: mimi.safetensors
  lm: lm.safetensors
  tokenizer: tokenizer.model
runtime: { device: webgpu, quantization: int4, context_window: 750 }
voice: voices/NATF2.pt
conversation:
  duration: 20
  initial_prompt: You enjoy a good conversation.
  thinking_clip: thinking.wav
sampling: { temp: 0.8, temp_text: 0.7, top_k: 250, top_k_text: 25, seed: 42, greedy: false }
secondary_model: { kind: llama_cpp, path: qwen.gguf, deadline: 4, gpu: vulkan, gpu_layers: 20 }
`)
      assert.strictEqual(config.runtime?.quantization, "int4")
      assert.strictEqual(config.conversation?.duration, 20)
      assert.strictEqual(config.secondary_model?.kind, "llama_cpp")
      assert.strictEqual(config.secondary_model?.gpu, "vulkan")
      assert.strictEqual(config.secondary_model?.gpu_layers, 20)
    }),
  )

  it.effect(
    "secondary_model.gpu takes auto, vulkan, cuda, metal or false; gpu_layers auto, max or a count",
    () =>
      Effect.gen(function* () {
        const cpu = yield* parseRunConfig(
          "secondary_model: { kind: llama_cpp, path: q.gguf, gpu: false, gpu_layers: max }",
        )
        assert.strictEqual(cpu.secondary_model?.gpu, false)
        assert.strictEqual(cpu.secondary_model?.gpu_layers, "max")
        const error = yield* failure(
          "secondary_model: { kind: llama_cpp, path: q.gguf, gpu: opencl, gpu_layers: -1 }",
        )
        assert.sameMembers(
          [...error.issues],
          [
            'secondary_model.gpu: expected one of "auto", "vulkan", "cuda", "metal", false, got "opencl"',
            "secondary_model.gpu_layers: expected an integer ≥ 0, got -1",
          ],
        )
      }),
  )

  it.effect("a non-number duration is reported with its path, the expectation and the value", () =>
    Effect.gen(function* () {
      const error = yield* failure("conversation:\n  duration: abc\n")
      assert.deepStrictEqual(error.issues, [
        'conversation.duration: expected a number between 10 and 30, got "abc"',
      ])
      assert.include(error.message, "test.yaml")
    }),
  )

  it.effect("every problem is reported at once, each naming its field", () =>
    Effect.gen(function* () {
      const error = yield* failure(`
runtime: { device: tpu, context_window: 5000, graph_capture: often }
conversation: { duration: 40, colour: blue }
sampling: { top_k: 2.5, greedy: maybe }
secondary_model: { path: x.gguf }
`)
      assert.sameMembers(
        [...error.issues],
        [
          'runtime.device: expected one of "cpu", "webgpu", got "tpu"',
          "runtime.context_window: expected an integer between 12 and 3000, got 5000",
          'runtime.graph_capture: expected true or false, got "often"',
          "conversation.duration: expected a number between 10 and 30, got 40",
          "conversation.colour: unknown field",
          "sampling.top_k: expected an integer ≥ 1, got 2.5",
          'sampling.greedy: expected true or false, got "maybe"',
          "secondary_model.kind: missing",
        ],
      )
    }),
  )

  it.effect("window_frames is the smoke-run override: any positive integer, checked as strictly", () =>
    Effect.gen(function* () {
      const ok = yield* parseRunConfig("conversation: { window_frames: 12 }")
      assert.strictEqual(ok.conversation?.window_frames, 12)
      const error = yield* failure("conversation: { window_frames: 0.5 }")
      assert.deepStrictEqual(error.issues, ["conversation.window_frames: expected an integer ≥ 1, got 0.5"])
    }),
  )

  it.effect("YAML syntax errors and non-object documents are reported", () =>
    Effect.gen(function* () {
      assert.include((yield* failure("a: [")).issues[0]!, "not valid YAML")
      assert.deepStrictEqual((yield* failure("- 1")).issues, ["(root): expected object, got [1]"])
    }),
  )

  it.effect("paths in a config file are resolved against the file's folder; a missing file is named", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-config-"))
      const file = path.join(dir, "run.yaml")
      fs.writeFileSync(file, "voice: voices/a.wav\nconversation: { thinking_clip: /abs/t.wav }\n")
      const config = yield* loadRunConfig(file)
      assert.strictEqual(config.voice, path.join(dir, "voices", "a.wav"))
      assert.strictEqual(config.conversation?.thinking_clip, "/abs/t.wav")
      const missing = yield* Effect.flip(loadRunConfig(path.join(dir, "nope.yaml")))
      assert.include(missing.message, "nope.yaml")
      assert.include(missing.message, "no such file")
    }),
  )
})
