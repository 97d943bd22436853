import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { assets } from "@personaplex/audio-io"
import { saveVoicePrompt, VoicePrompt } from "@personaplex/lm"
import { Effect } from "effect"
import { loadVoice } from "../src/wiring.ts"
import { tempDir } from "./support.ts"

describe("voice files", () => {
  it.effect("a WAV becomes an audio voice prompt (24 kHz mono samples)", () =>
    Effect.gen(function* () {
      const voice = yield* loadVoice(assets.thinkingWav)
      assert.strictEqual(voice._tag, "Audio")
      if (voice._tag === "Audio") assert.isAbove(voice.pcm.length, 12000)
    }),
  )

  it.effect("a voice cache (.safetensors) is replayed as is", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir("voice-"), "v.safetensors")
      const embeddings = Float32Array.from({ length: 3 * 8 }, (_, i) => i / 10)
      const cache = Int32Array.from({ length: 17 * 4 }, (_, i) => i)
      yield* saveVoicePrompt(file, VoicePrompt.cached(embeddings, 3, cache))
      const voice = yield* loadVoice(file)
      assert.strictEqual(voice._tag, "Cached")
      if (voice._tag === "Cached") {
        assert.strictEqual(voice.frames, 3)
        assert.deepStrictEqual([...voice.cache], [...cache])
      }
    }),
  )

  it.effect("a missing voice file is named with its field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadVoice("/nowhere/voice.wav"))
      assert.strictEqual(error.message, "voice: /nowhere/voice.wav: no such file or folder")
    }),
  )
})
