import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  type CompactionInput,
  Compactor,
  chatCompletionsUrl,
  HttpCompactorError,
  makeOpenAiCompatibleCompactor,
  promptWords,
} from "../src/index.ts"

type Reply = { status: number; body: unknown } | "hang"

// A local chat-completions server: each request takes the next scripted reply (the last one repeats).
let server: http.Server
let baseUrl = ""
let replies: Array<Reply> = []
let received: Array<{ url: string; body: Record<string, unknown>; authorization?: string }> = []
const hung: Array<http.ServerResponse> = []

const completion = (content: string) => ({
  status: 200,
  body: { choices: [{ index: 0, message: { role: "assistant", content } }] },
})

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let data = ""
    req.on("data", (chunk) => {
      data += chunk
    })
    req.on("end", () => {
      received.push({
        url: req.url ?? "",
        body: JSON.parse(data),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      })
      const reply = replies.length > 1 ? replies.shift()! : replies[0]!
      if (reply === "hang") {
        hung.push(res)
        return
      }
      res.writeHead(reply.status, { "content-type": "application/json" })
      res.end(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const res of hung) res.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  replies = []
  received = []
})

const basePersona = "You work for Brightline Dental which is a dental clinic and your name is Maya."
const input: CompactionInput = {
  basePersona,
  previousPrompt: `<system> ${basePersona} <system>`,
  history: [
    {
      index: 0,
      userText: "I'm Daniel, patient number 48213.",
      agentText: "Thanks Daniel, I found your file.",
    },
  ],
}
const fast = { retryBackoff: "10 millis", requestTimeout: "2 seconds" } as const

describe("OpenAI-compatible compactor against a local server", () => {
  it("POSTs /v1/chat/completions with the model, maxTokens 300, temperature 0.3 and shapes the answer", async () => {
    replies = [completion(`${basePersona} Information: The user is Daniel, patient number 48213.`)]
    const compactor = makeOpenAiCompatibleCompactor({
      baseUrl,
      model: "qwen2.5-1.5b-instruct",
      apiKey: "k",
      ...fast,
    })
    const result = await Effect.runPromise(compactor.compact(input))
    expect(result.prompt).toBe(
      `<system> ${basePersona} Information: The user is Daniel, patient number 48213. <system>`,
    )
    expect(result.source).toBe("model")
    expect(result.backend).toBe("openai-compatible")
    expect(received).toHaveLength(1)
    const request = received[0]!
    expect(request.url).toBe("/v1/chat/completions")
    expect(request.authorization).toBe("Bearer k")
    expect(request.body).toMatchObject({
      model: "qwen2.5-1.5b-instruct",
      max_tokens: 300,
      temperature: 0.3,
      stream: false,
    })
    const messages = request.body.messages as Array<{ role: string; content: string }>
    expect(messages.map((m) => m.role)).toEqual(["system", "user"])
    expect(messages[1]!.content).toContain("User: I'm Daniel, patient number 48213.")
    expect(messages[1]!.content).toContain("Assistant: Thanks Daniel")
  })

  it("retries after a 500 and succeeds", async () => {
    replies = [{ status: 500, body: { error: "model loading" } }, completion("The user is Daniel.")]
    const compactor = makeOpenAiCompatibleCompactor({ baseUrl, model: "m", ...fast })
    const result = await Effect.runPromise(compactor.compact(input))
    expect(received).toHaveLength(2)
    expect(result.prompt).toContain("The user is Daniel.")
  })

  it("times out a request that gets no answer, then retries it", async () => {
    replies = ["hang", completion("The user is Daniel.")]
    const compactor = makeOpenAiCompatibleCompactor({
      baseUrl,
      model: "m",
      requestTimeout: "150 millis",
      retryBackoff: "10 millis",
    })
    const started = Date.now()
    const result = await Effect.runPromise(compactor.compact(input))
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    expect(received).toHaveLength(2)
    expect(result.prompt).toContain("The user is Daniel.")
  })

  it("fails with a typed timeout error once the retries are spent", async () => {
    replies = ["hang"]
    const compactor = makeOpenAiCompatibleCompactor({
      baseUrl,
      model: "m",
      requestTimeout: "100 millis",
      retries: 1,
      retryBackoff: "10 millis",
    })
    const error = await Effect.runPromise(Effect.flip(compactor.compact(input)))
    expect(error).toBeInstanceOf(HttpCompactorError)
    expect(error.message).toContain("no response within 100 ms")
    expect(received).toHaveLength(2)
  })

  it("does not retry a 400", async () => {
    replies = [{ status: 400, body: { error: "unknown model" } }]
    const compactor = makeOpenAiCompatibleCompactor({ baseUrl, model: "m", ...fast })
    const error = await Effect.runPromise(Effect.flip(compactor.compact(input)))
    expect(error).toMatchObject({ _tag: "HttpCompactorError", status: 400, retryable: false })
    expect(received).toHaveLength(1)
  })

  it("a body without choices[0].message.content is a typed error naming the field", async () => {
    replies = [{ status: 200, body: { choices: [] } }]
    const compactor = makeOpenAiCompatibleCompactor({ baseUrl, model: "m", ...fast })
    const error = await Effect.runPromise(Effect.flip(compactor.compact(input)))
    expect(error.message).toContain("choices[0].message.content")
  })

  it("json mode asks for a json_schema response and renders the JSON answer", async () => {
    replies = [
      completion(
        JSON.stringify({ facts: ["The user is Daniel"], commitments: [], openTopics: ["Installments"] }),
      ),
    ]
    const compactor = makeOpenAiCompatibleCompactor({ baseUrl, model: "m", output: "json", ...fast })
    const result = await Effect.runPromise(compactor.compact(input))
    expect((received[0]!.body.response_format as { type: string }).type).toBe("json_schema")
    expect(result.prompt).toBe(
      `<system> ${basePersona} Information: The user is Daniel. Still open: Installments. <system>`,
    )
  })

  it("the Compactor.openAiCompatible layer falls back when the server keeps failing", async () => {
    replies = [{ status: 503, body: "overloaded" }]
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const compactor = yield* Compactor
        return yield* compactor.compact(input)
      }).pipe(Effect.provide(Compactor.openAiCompatible({ baseUrl, model: "m", retries: 2, ...fast }))),
    )
    expect(received).toHaveLength(3)
    expect(result.source).toBe("fallback")
    expect(result.reason).toContain("HTTP 503")
    expect(result.prompt).toContain("48213")
    expect(promptWords(result.prompt)).toBeLessThanOrEqual(200)
  })

  it("accepts a server root, its /v1, or the full endpoint URL", () => {
    expect(chatCompletionsUrl("http://h:1")).toBe("http://h:1/v1/chat/completions")
    expect(chatCompletionsUrl("http://h:1/v1/")).toBe("http://h:1/v1/chat/completions")
    expect(chatCompletionsUrl("http://h:1/v1/chat/completions")).toBe("http://h:1/v1/chat/completions")
  })
})
