import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseServerArgs } from "../src/server/main.ts"
import { startFromFlags } from "./helpers.ts"
import { responsiveModels } from "./responsive-models.ts"

describe("--max-sessions beyond what one batched LM step holds", () => {
  it("more than 32 conversations (the largest batch) is refused by the flag's name; the echo engine has no batch", async () => {
    const error = await Effect.runPromise(Effect.flip(parseServerArgs(["--max-sessions", "33"])))
    expect(error.message).toContain(
      '--max-sessions: expected an integer between 1 and 32 (the largest LM batch), got "33"',
    )
    const echo = await Effect.runPromise(parseServerArgs(["--engine", "echo", "--max-sessions", "33"]))
    expect(echo).toMatchObject({ maxSessions: 33 })
  })

  it("runtime.engine: two-graph with --max-sessions 2 stops the start: the batch is the fused step's", async () => {
    const { config, voices } = await responsiveModels()
    const twoGraph = path.join(path.dirname(config), "two-graph.yaml")
    fs.writeFileSync(
      twoGraph,
      fs.readFileSync(config, "utf8").replace("runtime:\n", "runtime:\n  engine: two-graph\n"),
    )
    await expect(
      startFromFlags(["--config", twoGraph, "--voices", voices, "--max-sessions", "2"]),
    ).rejects.toThrow(
      "--max-sessions 2 batches the conversations on the fused LM step: drop runtime.engine: two-graph (or use --max-sessions 1)",
    )
  }, 60_000)
})
