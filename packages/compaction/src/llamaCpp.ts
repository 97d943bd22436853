// A local GGUF model through node-llama-cpp as the compactor's model. The library is imported
// lazily, so users of the other layers never load llama.cpp.
import * as fs from "node:fs"
import { Effect, type Scope, Semaphore } from "effect"
import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  Token,
  TokenMeterState,
} from "node-llama-cpp"
import { GenerationError, ModelLoadError, ModelOutputError } from "./errors.ts"
import { makeCompactor } from "./makeCompactor.ts"
import {
  COMPACTION_JSON_SCHEMA,
  defaultInstructions,
  type OutputMode,
  promptFromOutput,
  renderRequest,
} from "./promptTemplate.ts"
import { type CompactorShape, DEFAULT_WORD_BUDGET } from "./types.ts"

const BACKEND = "llama-cpp"

/** Where llama.cpp runs: `auto` takes the best GPU backend installed (CUDA, Vulkan, Metal), else the CPU. */
export type LlamaGpu = "auto" | false | "cuda" | "vulkan" | "metal"

export interface LlamaEngineOptions {
  readonly modelPath: string
  /**
   * Default "auto". A GPU backend asked for by name that is not installed (node-llama-cpp's
   * `@node-llama-cpp/<platform>-<gpu>` package), does not load, or finds no device gives the CPU
   * and one warning line.
   */
  readonly gpu?: LlamaGpu
  /** CPU threads; llama.cpp's default oversubscribes small machines (use 1-2 on CI). */
  readonly maxThreads?: number
  /** Tokens of context; default 4096. */
  readonly contextSize?: number
  /** Layers offloaded to the GPU: default "auto" (as many as fit). */
  readonly gpuLayers?: "auto" | "max" | number
  /**
   * Default true: a request reuses the state of the tokens it shares with the previous one from the
   * start (the instructions), so only the rest is evaluated. False clears the sequence before each
   * request (every prompt evaluated whole: the benchmark's comparison).
   */
  readonly reusePrefix?: boolean
}

/** What the engine runs on, as loaded. */
export interface LlamaDevice {
  readonly requested: LlamaGpu
  /** The backend llama.cpp loaded (`false`: the CPU build). */
  readonly backend: string | false
  /** The GPUs the backend uses (none: it computes on the CPU). */
  readonly gpus: ReadonlyArray<string>
  /** Layers of the model on the GPU. */
  readonly gpuLayers: number
  /** Why the requested GPU is not used (the warning that was logged). */
  readonly fallback?: string
}

export interface GenerateRequest {
  readonly system: string
  readonly user: string
  readonly maxTokens: number
  readonly temperature: number
  readonly seed?: number
  readonly grammar?: LlamaGrammar
  /** Tokens a reasoning model may spend thinking (chat wrappers with thought segments); default unlimited. */
  readonly thoughtTokens?: number
  /** Called with the running count of generated tokens. */
  readonly onProgress?: (tokens: number) => void
  /** Generate exactly `maxTokens` (the special tokens, end of generation among them, banned): for timings. */
  readonly untilMaxTokens?: boolean
}

export interface Generation {
  readonly text: string
  /** Tokens generated (never more than `maxTokens`). */
  readonly tokens: number
  readonly stopReason: string
  /** The prompt's tokens: those llama.cpp evaluated, and those whose state it kept from the request before. */
  readonly promptTokens: PromptTokens
}

/**
 * The sequence keeps the state of the previous request: the tokens a new prompt shares with it from
 * the start (the instructions and the chat template's head) are reused, only the rest is evaluated.
 */
export interface PromptTokens {
  readonly evaluated: number
  readonly reused: number
}

/** A loaded model with one context sequence; generations run one at a time. */
export interface LlamaEngine {
  readonly llama: Llama
  readonly model: LlamaModel
  readonly context: LlamaContext
  readonly contextSize: number
  /** The GPU backend llama.cpp uses, or false on the CPU. */
  readonly gpu: string | false
  readonly device: LlamaDevice
  countTokens(text: string): number
  createJsonGrammar(schema: object): Effect.Effect<LlamaGrammar, GenerationError>
  /** Interruption aborts the generation and waits (briefly) until llama.cpp has stopped. */
  generate(request: GenerateRequest): Effect.Effect<Generation, GenerationError>
  /**
   * Evaluates `system` (the instructions every request starts with) and generates a few tokens, twice
   * (a long prompt, then a short one after the kept prefix), so that llama.cpp compiles its GPU
   * pipelines and the next request reuses the instructions' state instead of paying for either.
   */
  warmUp(system: string): Effect.Effect<WarmUp, GenerationError>
}

/** What the warm-up cost. */
export interface WarmUp {
  readonly ms: number
  /** Prompt tokens it evaluated: the instructions and the chat template around them, both requests. */
  readonly promptTokens: number
}

// Two short requests after the instructions: the second one evaluates only what differs from the first.
const WARM_UP_REQUESTS = ["Base persona:\n(none)", "Conversation since then:\n(nothing was said)"]

/**
 * From node-llama-cpp's own counters: its token meter counts the prompt tokens evaluated without
 * logits as input (all but the last), and the state kept is the prefix the sequence still has.
 */
const promptTokensOf = (
  before: ReadonlyArray<Token>,
  sequence: LlamaContextSequence,
  meter: TokenMeterState,
): PromptTokens => {
  const evaluated = sequence.tokenMeter.diff(meter).usedInputTokens + 1
  const after = sequence.contextTokens
  let reused = 0
  while (reused < before.length && reused < after.length && before[reused] === after[reused]) reused++
  return { evaluated, reused }
}

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** Load llama.cpp, the model and a context; all three are released when the scope closes. */
export const acquireLlamaEngine = (
  options: LlamaEngineOptions,
): Effect.Effect<LlamaEngine, ModelLoadError, Scope.Scope> =>
  Effect.gen(function* () {
    const modelPath = options.modelPath
    const loadError = (e: unknown) => new ModelLoadError({ modelPath, reason: reasonOf(e) })
    if (!fs.existsSync(modelPath)) return yield* Effect.fail(loadError("file not found"))
    const lib = yield* Effect.tryPromise({ try: () => import("node-llama-cpp"), catch: loadError })
    const requested = options.gpu ?? "auto"
    const open = (gpu: LlamaGpu) =>
      Effect.tryPromise({
        try: () =>
          lib.getLlama({
            gpu,
            build: "never",
            // Its own "prebuilt binary not found" lines would double the one warning below.
            progressLogs: false,
            logLevel: lib.LlamaLogLevel.error,
            ...(options.maxThreads === undefined ? {} : { maxThreads: options.maxThreads }),
          }),
        catch: loadError,
      })
    let fallback: string | undefined
    const llama = yield* Effect.acquireRelease(
      open(requested).pipe(
        Effect.catch((error) =>
          requested === false || requested === "auto"
            ? Effect.fail(error)
            : Effect.suspend(() => {
                fallback = `llama.cpp's ${requested} backend is not installed or does not load (${error.reason})`
                return open(false)
              }),
        ),
      ),
      (l) => Effect.promise(() => l.dispose()),
    )
    const gpus = llama.gpu === false ? [] : yield* Effect.promise(() => llama.getGpuDeviceNames())
    if (fallback === undefined && requested !== "auto" && requested !== false && gpus.length === 0)
      fallback = `llama.cpp's ${llama.gpu} backend finds no ${requested} device`
    if (fallback !== undefined)
      yield* Effect.logWarning(
        `compaction: ${fallback}: the compactor runs on the CPU (GPU install: @personaplex/compaction README, "On a GPU")`,
      )
    const model = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          llama.loadModel({
            modelPath,
            ...(options.gpuLayers === undefined ? {} : { gpuLayers: options.gpuLayers }),
          }),
        catch: loadError,
      }),
      (m) => Effect.promise(() => m.dispose()),
    )
    const context = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => model.createContext({ contextSize: options.contextSize ?? 4096, sequences: 1 }),
        catch: loadError,
      }),
      (c) => Effect.promise(() => c.dispose()),
    )
    const device: LlamaDevice = {
      requested,
      backend: llama.gpu,
      gpus,
      gpuLayers: model.gpuLayers,
      ...(fallback === undefined ? {} : { fallback }),
    }
    yield* Effect.logDebug(
      `compaction: ${modelPath} loaded on ${gpus.length === 0 ? "the CPU" : `${gpus.join(", ")} (${llama.gpu}, ${model.gpuLayers} layers)`}`,
    )
    const sequence = context.getSequence()
    const lock = yield* Semaphore.make(1)
    const running = new Set<AbortController>()
    // Runs before the disposals above: stop any generation and wait for it, so nothing is freed under it.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const controller of running) controller.abort(new Error("llama engine released"))
      }).pipe(Effect.andThen(lock.withPermits(1)(Effect.void))),
    )

    let banned: InstanceType<typeof lib.TokenBias> | undefined
    const specialTokensBanned = () => {
      if (banned === undefined) {
        banned = new lib.TokenBias(model.tokenizer)
        for (const token of model.iterateAllTokens())
          if (model.isSpecialToken(token)) banned.set(token, "never")
      }
      return banned
    }

    const generate = (request: GenerateRequest) =>
      lock.withPermits(1)(
        Effect.callback<Generation, GenerationError>((resume) => {
          const controller = new AbortController()
          running.add(controller)
          let tokens = 0
          const run = async (): Promise<Generation> => {
            // No clearHistory: LlamaChat keeps the state of the tokens this prompt shares with the
            // sequence's from the start and evaluates the rest (the reuse the warm-up prepares).
            if (options.reusePrefix === false) await sequence.clearHistory()
            const before = sequence.contextTokens
            const meter = sequence.tokenMeter.getState()
            const session = new lib.LlamaChatSession({
              contextSequence: sequence,
              systemPrompt: request.system,
              autoDisposeSequence: false,
            })
            try {
              const answer = await session.promptWithMeta(request.user, {
                ...(request.untilMaxTokens ? { tokenBias: specialTokensBanned() } : {}),
                maxTokens: request.maxTokens,
                temperature: request.temperature,
                ...(request.seed === undefined ? {} : { seed: request.seed }),
                ...(request.grammar === undefined ? {} : { grammar: request.grammar }),
                ...(request.thoughtTokens === undefined
                  ? {}
                  : { budgets: { thoughtTokens: request.thoughtTokens } }),
                signal: controller.signal,
                stopOnAbortSignal: false,
                onToken: (t) => {
                  tokens += t.length
                  request.onProgress?.(tokens)
                },
              })
              return {
                text: answer.responseText,
                tokens,
                stopReason: answer.stopReason,
                promptTokens: promptTokensOf(before, sequence, meter),
              }
            } finally {
              session.dispose({ disposeSequence: false })
            }
          }
          const settled = run().then(
            (generation) => resume(Effect.succeed(generation)),
            (e) =>
              resume(
                Effect.fail(
                  new GenerationError({
                    backend: BACKEND,
                    reason: controller.signal.aborted
                      ? `aborted: ${reasonOf(controller.signal.reason)}`
                      : reasonOf(e),
                  }),
                ),
              ),
          )
          void settled.finally(() => running.delete(controller))
          return Effect.promise(() => {
            controller.abort(new Error("compaction interrupted"))
            return settled
          })
        }),
      )

    return {
      llama,
      model,
      context,
      contextSize: context.contextSize,
      gpu: llama.gpu,
      device,
      countTokens: (text: string) => model.tokenize(text).length,
      createJsonGrammar: (schema: object) =>
        Effect.tryPromise({
          try: () => llama.createGrammarForJsonSchema(schema as never) as Promise<LlamaGrammar>,
          catch: (e) =>
            new GenerationError({ backend: BACKEND, reason: `JSON schema grammar: ${reasonOf(e)}` }),
        }),
      generate,
      warmUp: (system: string) =>
        Effect.gen(function* () {
          const start = performance.now()
          let promptTokens = 0
          for (const user of WARM_UP_REQUESTS) {
            const generation = yield* generate({ system, user, maxTokens: 2, temperature: 0 })
            promptTokens += generation.promptTokens.evaluated
          }
          return { ms: performance.now() - start, promptTokens }
        }),
    } satisfies LlamaEngine
  })

export interface LlamaCppOptions extends LlamaEngineOptions {
  /** Default 300. */
  readonly maxTokens?: number
  /** Default 0.3. */
  readonly temperature?: number
  readonly seed?: number
  /** "json" (default) constrains the answer with a JSON-schema grammar; "text" lets the model write the prompt. */
  readonly output?: OutputMode
  /** Replaces the default instructions (the system message). */
  readonly instructions?: (wordBudget: number, mode: OutputMode) => string
  /** Thinking budget of reasoning models (Qwen3, DeepSeek-R1 distills): default 0, compaction needs none. */
  readonly thoughtTokens?: number
  /**
   * The word budget the compactions will ask for (the loop's `wordBudget`): the instructions warmed
   * up when the compactor is made are written for it. Default {@link DEFAULT_WORD_BUDGET}.
   */
  readonly wordBudget?: number
}

// Chat template and role markers cost tokens beyond the two messages themselves.
const TEMPLATE_OVERHEAD_TOKENS = 48

/** The compactor without a deadline over an engine (use `Compactor.llamaCpp` for the guarded layer). */
export const makeLlamaCppCompactor = (
  engine: LlamaEngine,
  options: Omit<LlamaCppOptions, keyof LlamaEngineOptions>,
): Effect.Effect<CompactorShape, GenerationError> =>
  Effect.gen(function* () {
    const mode = options.output ?? "json"
    const instructions = options.instructions ?? defaultInstructions
    const maxTokens = options.maxTokens ?? 300
    const grammar = mode === "json" ? yield* engine.createJsonGrammar(COMPACTION_JSON_SCHEMA) : undefined
    // A warm-up that fails (instructions too long for the context, say) costs only its speed-up.
    yield* engine.warmUp(instructions(options.wordBudget ?? DEFAULT_WORD_BUDGET, mode)).pipe(
      Effect.matchEffect({
        onSuccess: (warm) =>
          Effect.logInfo(
            `compaction: llama.cpp warmed up in ${warm.ms.toFixed(0)} ms (its instructions: ${warm.promptTokens} prompt tokens evaluated)`,
          ),
        onFailure: (error) =>
          Effect.logWarning(
            `compaction: llama.cpp warm-up failed (${error.reason}): the first compaction evaluates the instructions`,
          ),
      }),
    )
    const compact = makeCompactor(BACKEND, (input) =>
      Effect.gen(function* () {
        const system = instructions(input.wordBudget, mode)
        const room = engine.contextSize - maxTokens - TEMPLATE_OVERHEAD_TOKENS - engine.countTokens(system)
        // Drop the oldest transcript until the request fits the context (the previous prompt carries it).
        let transcriptWords = 3000
        let user = renderRequest(input, transcriptWords)
        while (engine.countTokens(user) > room && transcriptWords > 0) {
          transcriptWords = Math.floor(transcriptWords / 2)
          user = renderRequest(input, transcriptWords)
        }
        if (engine.countTokens(user) > room)
          return yield* Effect.fail(
            new GenerationError({
              backend: BACKEND,
              reason: `request of ${engine.countTokens(user)} tokens does not fit a ${engine.contextSize}-token context with ${maxTokens} tokens to generate`,
            }),
          )
        const generation = yield* engine.generate({
          system,
          user,
          maxTokens,
          temperature: options.temperature ?? 0.3,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(grammar === undefined ? {} : { grammar }),
          thoughtTokens: options.thoughtTokens ?? 0,
        })
        return yield* Effect.try({
          try: () => promptFromOutput(BACKEND, mode, generation.text, input),
          catch: (e) =>
            e instanceof ModelOutputError
              ? e
              : new ModelOutputError({ backend: BACKEND, reason: reasonOf(e), output: generation.text }),
        })
      }),
    )
    return { compact }
  })
