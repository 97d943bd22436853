import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadRunConfig, parseRunConfig } from "../src/config.ts"
import { DEFAULT_TRANSCRIBER_REPO, resolveSettings } from "../src/settings.ts"

const settingsOf = (result: ReturnType<typeof resolveSettings>) => {
  if ("problems" in result) throw new Error(result.problems.join("; "))
  return result.settings
}

describe("the transcriber: section", () => {
  it("absent or enabled: false, no transcriber runs", () => {
    assert.isUndefined(settingsOf(resolveSettings({}, {})).transcriber)
    assert.isUndefined(
      settingsOf(resolveSettings({ transcriber: { enabled: false, model: "/m" } }, {})).transcriber,
    )
  })

  it("present, Moonshine tiny from the Hugging Face cache by default, fp32, one thread", () => {
    assert.deepStrictEqual(settingsOf(resolveSettings({ transcriber: {} }, {})).transcriber, {
      source: { repo: DEFAULT_TRANSCRIBER_REPO },
      dtype: "fp32",
      threads: 1,
    })
    assert.deepStrictEqual(
      settingsOf(
        resolveSettings(
          { transcriber: { hf_repo: "me/moonshine-base", revision: "v2", dtype: "q8", threads: 2 } },
          {},
        ),
      ).transcriber,
      { source: { repo: "me/moonshine-base", revision: "v2" }, dtype: "q8", threads: 2 },
    )
  })

  it.effect("model: is a folder, relative to the config file", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-transcriber-"))
      fs.writeFileSync(path.join(dir, "run.yaml"), "transcriber:\n  model: models/moonshine\n")
      const config = yield* loadRunConfig(path.join(dir, "run.yaml"))
      assert.deepStrictEqual(settingsOf(resolveSettings(config, {})).transcriber?.source, {
        folder: path.join(dir, "models", "moonshine"),
      })
    }),
  )

  it.effect("a bad value names its field; model and hf_repo together are refused", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(parseRunConfig("transcriber: { dtype: q3, thread: 2 }"))
      assert.include(error.message, 'transcriber.dtype: expected one of "fp32"')
      assert.include(error.message, "transcriber.thread: unknown field")
      const both = resolveSettings({ transcriber: { model: "/m", hf_repo: "a/b" } }, {})
      assert.deepStrictEqual("problems" in both ? both.problems : [], [
        "transcriber: give model (a folder) or hf_repo, not both",
      ])
    }),
  )
})
