import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { loadRunConfig } from "@personaplex/stack"
import { Effect } from "effect"

describe("the example configuration", () => {
  it.effect("examples/personaplex.yaml validates", () =>
    Effect.gen(function* () {
      const config = yield* loadRunConfig(
        fileURLToPath(new URL("../examples/personaplex.yaml", import.meta.url)),
      )
      assert.strictEqual(config.model?.hf_repo, "nvidia/personaplex-7b-v1")
      assert.strictEqual(config.conversation?.duration, 20)
      assert.strictEqual(config.secondary_model?.kind, "none")
    }),
  )
})
