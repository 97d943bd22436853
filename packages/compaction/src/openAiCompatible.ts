// An OpenAI-compatible chat endpoint as the compactor's model: llama-server, Ollama, vLLM, ...
import { Duration, Effect, Schedule } from "effect"
import { HttpCompactorError, ModelOutputError } from "./errors.ts"
import { makeCompactor } from "./makeCompactor.ts"
import {
  COMPACTION_JSON_SCHEMA,
  defaultInstructions,
  type OutputMode,
  promptFromOutput,
  renderRequest,
} from "./promptTemplate.ts"
import type { CompactorShape } from "./types.ts"

export interface OpenAiCompatibleOptions {
  /** Server root (`http://127.0.0.1:8080`), its `/v1`, or the full `/v1/chat/completions` URL. */
  readonly baseUrl: string
  readonly model: string
  readonly apiKey?: string
  /** Default 300. */
  readonly maxTokens?: number
  /** Default 0.3. */
  readonly temperature?: number
  /** Per attempt; default 10 seconds. */
  readonly requestTimeout?: Duration.Input
  /** Further attempts after a network error, timeout, HTTP 429 or 5xx; default 2. */
  readonly retries?: number
  /** First wait between attempts, doubled each time; default 250 ms. */
  readonly retryBackoff?: Duration.Input
  /** "json" sends `response_format: json_schema` (llama-server, vLLM and Ollama honour it); default "text". */
  readonly output?: OutputMode
  /** Replaces the default instructions (the system message). */
  readonly instructions?: (wordBudget: number, mode: OutputMode) => string
  /** Transcript words sent at most (newest windows first); default 3000. */
  readonly maxTranscriptWords?: number
  readonly headers?: Readonly<Record<string, string>>
}

export const chatCompletionsUrl = (baseUrl: string): string => {
  const base = baseUrl.replace(/\/+$/, "")
  if (base.endsWith("/chat/completions")) return base
  return base.endsWith("/v1") ? `${base}/chat/completions` : `${base}/v1/chat/completions`
}

const BACKEND = "openai-compatible"

const answerText = (url: string, body: string): string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new HttpCompactorError({
      url,
      reason: `response is not JSON: ${body.slice(0, 120)}`,
      retryable: false,
    })
  }
  const content = (parsed as { choices?: Array<{ message?: { content?: unknown } }> })?.choices?.[0]?.message
    ?.content
  if (typeof content !== "string")
    throw new HttpCompactorError({
      url,
      reason: "response has no choices[0].message.content string",
      retryable: false,
    })
  return content
}

/** One POST with its own timeout; interruption aborts the request. */
const post = (
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeout: Duration.Input,
) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { method: "POST", headers: init.headers, body: init.body, signal })
      const text = await response.text()
      return { status: response.status, text }
    },
    catch: (cause) =>
      new HttpCompactorError({
        url,
        reason: `request failed: ${(cause as Error)?.message ?? String(cause)}`,
        retryable: true,
      }),
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new HttpCompactorError({
            url,
            reason: `no response within ${Duration.toMillis(Duration.fromInputUnsafe(timeout))} ms`,
            retryable: true,
          }),
        ),
    }),
    Effect.flatMap(({ status, text }) => {
      if (status >= 200 && status < 300) return Effect.succeed(text)
      return Effect.fail(
        new HttpCompactorError({
          url,
          status,
          reason: text.slice(0, 200) || "empty body",
          retryable: status === 429 || status >= 500,
        }),
      )
    }),
  )

/** The compactor without a deadline: fails with typed errors (use `Compactor.openAiCompatible` for the guarded one). */
export const makeOpenAiCompatibleCompactor = (options: OpenAiCompatibleOptions): CompactorShape => {
  const url = chatCompletionsUrl(options.baseUrl)
  const mode = options.output ?? "text"
  const instructions = options.instructions ?? defaultInstructions
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    ...options.headers,
  }
  const retryPolicy = {
    schedule: Schedule.exponential(options.retryBackoff ?? Duration.millis(250)),
    times: options.retries ?? 2,
    while: (e: HttpCompactorError) => e.retryable,
  }
  const compact = makeCompactor(BACKEND, (input) =>
    Effect.gen(function* () {
      const body = JSON.stringify({
        model: options.model,
        messages: [
          { role: "system", content: instructions(input.wordBudget, mode) },
          { role: "user", content: renderRequest(input, options.maxTranscriptWords ?? 3000) },
        ],
        max_tokens: options.maxTokens ?? 300,
        temperature: options.temperature ?? 0.3,
        stream: false,
        ...(mode === "json"
          ? {
              response_format: {
                type: "json_schema",
                json_schema: { name: "compaction", schema: COMPACTION_JSON_SCHEMA },
              },
            }
          : {}),
      })
      const responseBody = yield* post(
        url,
        { headers, body },
        options.requestTimeout ?? Duration.seconds(10),
      ).pipe(Effect.retry(retryPolicy))
      const text = yield* Effect.try({
        try: () => answerText(url, responseBody),
        catch: (e) => e as HttpCompactorError,
      })
      return yield* Effect.try({
        try: () => promptFromOutput(BACKEND, mode, text, input),
        catch: (e) =>
          e instanceof ModelOutputError
            ? e
            : new ModelOutputError({ backend: BACKEND, reason: String(e), output: text }),
      })
    }),
  )
  return { compact }
}
