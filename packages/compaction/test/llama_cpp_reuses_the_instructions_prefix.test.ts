// The engine keeps the sequence's state between requests: a prompt evaluates only the tokens after
// the prefix it shares with the previous one (the compactor's instructions, warmed up when it is made).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Logger, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  acquireLlamaEngine,
  type CompactionInput,
  Compactor,
  defaultInstructions,
  type Generation,
  type LlamaEngine,
  writeTinyLlamaGguf,
} from "../src/index.ts"

let dir = ""
let modelPath = ""
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "compaction-reuse-"))
  modelPath = writeTinyLlamaGguf(path.join(dir, "tiny.gguf"), { seed: 7 }).path
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const logLines: Array<string> = []
const logger = Logger.layer([
  Logger.make(({ logLevel, message }) => {
    logLines.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).join(" ")}`)
  }),
])

const withEngine = <A, E>(
  reusePrefix: boolean,
  use: (engine: LlamaEngine) => Effect.Effect<A, E, Scope.Scope>,
  contextSize = 2048,
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        acquireLlamaEngine({ modelPath, gpu: false, maxThreads: 1, contextSize, reusePrefix }),
        use,
      ),
    ).pipe(Effect.provide(logger)),
  )

const system = defaultInstructions(200, "json")
const request = (user: string) => ({ system, user, maxTokens: 8, temperature: 0.3, seed: 5 })
const users = [
  "Base persona:\nYou are Maya.\n\nConversation since then:\nUser: I am Dan.",
  "Base persona:\nYou are Maya.\n\nConversation since then:\nUser: my code is 5521, call me at 3 pm.",
]

const twoRequests = (reusePrefix: boolean) =>
  withEngine(reusePrefix, (engine) =>
    Effect.gen(function* () {
      const first = yield* engine.generate(request(users[0]!))
      const second = yield* engine.generate(request(users[1]!))
      return { first, second, systemTokens: engine.countTokens(system) }
    }),
  )

describe("llama.cpp prompt prefix reuse", () => {
  it("a second request with the same instructions evaluates only what follows them", async () => {
    const { first, second, systemTokens } = await twoRequests(true)
    expect(first.promptTokens.reused).toBe(0)
    expect(first.promptTokens.evaluated).toBeGreaterThan(systemTokens)
    expect(second.promptTokens.reused).toBeGreaterThanOrEqual(systemTokens)
    expect(second.promptTokens.evaluated).toBeLessThan(first.promptTokens.evaluated - systemTokens + 20)
    expect(second.promptTokens.evaluated + second.promptTokens.reused).toBeGreaterThan(
      first.promptTokens.evaluated,
    )
  })

  it("reusePrefix: false evaluates every prompt whole", async () => {
    const { first, second, systemTokens } = await twoRequests(false)
    expect(second.promptTokens.reused).toBe(0)
    expect(second.promptTokens.evaluated).toBeGreaterThan(systemTokens)
    expect(second.promptTokens.evaluated).toBeGreaterThan(first.promptTokens.evaluated)
  })

  it("the kept prefix does not change the answer: the same text as a cleared sequence, same seed", async () => {
    const reused = await twoRequests(true)
    const cleared = await twoRequests(false)
    expect(reused.second.text).toBe(cleared.second.text)
  })

  it("the compactor warms its instructions up when it is made: its first compaction evaluates only the request", async () => {
    const input: CompactionInput = {
      basePersona: "You are Maya.",
      previousPrompt: "<system> You are Maya. <system>",
      history: [{ index: 0, userText: "I am Dan.", agentText: "Hi Dan, see you at 3 pm." }],
    }
    logLines.length = 0
    const { generations, results, systemTokens } = await withEngine(true, (engine) =>
      Effect.gen(function* () {
        const generations: Array<Generation> = []
        const recording: LlamaEngine = {
          ...engine,
          generate: (r) => engine.generate(r).pipe(Effect.tap((g) => Effect.sync(() => generations.push(g)))),
        }
        const compactor = yield* Compactor.fromLlamaEngine(recording, { maxTokens: 96, seed: 3 })
        const results = [
          yield* compactor.compact(input),
          yield* compactor.compact({
            ...input,
            previousPrompt: "<system> You are Maya. Information: Dan. <system>",
          }),
        ]
        return { generations, results, systemTokens: engine.countTokens(defaultInstructions(200, "json")) }
      }),
    )
    expect(generations).toHaveLength(2)
    for (const g of generations) {
      expect(g.promptTokens.reused).toBeGreaterThanOrEqual(systemTokens)
      expect(g.promptTokens.evaluated).toBeLessThan(systemTokens)
    }
    for (const r of results) expect(r.prompt).toMatch(/^<system> You are Maya\./)
    expect(logLines.filter((l) => l.includes("warmed up"))).toEqual([
      expect.stringMatching(
        /^Info: compaction: llama\.cpp warmed up in \d+ ms \(its instructions: \d+ prompt tokens evaluated\)$/,
      ),
    ])
  })

  it("instructions too long for the context: the warm-up is one warning and the compactor still answers", async () => {
    logLines.length = 0
    const result = await withEngine(
      true,
      (engine) =>
        Effect.flatMap(Compactor.fromLlamaEngine(engine, { maxTokens: 8 }), (compactor) =>
          compactor.compact({ basePersona: "You are Maya.", previousPrompt: "", history: [] }),
        ),
      512,
    )
    expect(logLines.filter((l) => l.startsWith("Warn:"))).toEqual([
      expect.stringMatching(
        /^Warn: compaction: llama\.cpp warm-up failed \(.+\): the first compaction evaluates the instructions$/,
      ),
    ])
    expect(result.source).toBe("fallback")
    expect(result.prompt).toMatch(/^<system> You are Maya\./)
  })
})
