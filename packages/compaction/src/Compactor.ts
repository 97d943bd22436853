import { Config, Context, Duration, Effect, Layer, Option } from "effect"
import { type DeadlineOptions, withDeadline } from "./deadline.ts"
import type { CompactionError } from "./errors.ts"
import { extractivePrompt } from "./extractive.ts"
import {
  acquireLlamaEngine,
  type LlamaCppOptions,
  type LlamaEngine,
  type LlamaEngineOptions,
  makeLlamaCppCompactor,
} from "./llamaCpp.ts"
import { makeCompactor } from "./makeCompactor.ts"
import { makeOpenAiCompatibleCompactor, type OpenAiCompatibleOptions } from "./openAiCompatible.ts"
import type { CompactorShape } from "./types.ts"

/** How long a model layer may take before its result is replaced by the deterministic fallback. */
export const DEFAULT_DEADLINE: Duration.Duration = Duration.seconds(20)

export interface GuardOptions extends DeadlineOptions {
  /** Default {@link DEFAULT_DEADLINE}. */
  readonly deadline?: Duration.Input
}

/** The deterministic, extractive compactor: no model, never fails, a few milliseconds. */
export const modelFreeCompactor: CompactorShape = {
  compact: makeCompactor("model-free", (input) => Effect.sync(() => extractivePrompt(input))),
}

/** Turns a conversation transcript into the next PersonaPlex system prompt. */
export class Compactor extends Context.Service<Compactor, CompactorShape>()(
  "@personaplex/compaction/Compactor",
) {
  /** Extractive and deterministic: what the loop uses when no model is configured. */
  static readonly modelFree: Layer.Layer<Compactor> = Layer.succeed(
    Compactor,
    Compactor.of(modelFreeCompactor),
  )

  /**
   * A local GGUF model through node-llama-cpp, loaded once when the layer is built and released
   * when its scope closes. Results past the deadline, model errors and unparseable answers become
   * the deterministic fallback (`source: "fallback"`).
   */
  static llamaCpp(options: LlamaCppOptions & GuardOptions): Layer.Layer<Compactor, CompactionError> {
    return Layer.effect(
      Compactor,
      Effect.flatMap(acquireLlamaEngine(options), (engine) => Compactor.fromLlamaEngine(engine, options)),
    )
  }

  /** {@link Compactor.llamaCpp} over an engine already loaded (shared with other work, as the GPU benchmark does). */
  static fromLlamaEngine(
    engine: LlamaEngine,
    options: Omit<LlamaCppOptions, keyof LlamaEngineOptions> & GuardOptions,
  ): Effect.Effect<CompactorShape, CompactionError> {
    return Effect.map(makeLlamaCppCompactor(engine, options), (compactor) =>
      Compactor.of(withDeadline(options.deadline ?? DEFAULT_DEADLINE, options)(compactor)),
    )
  }

  /** An OpenAI-compatible endpoint (llama-server, Ollama, vLLM), with per-request timeouts, retries and the deadline. */
  static openAiCompatible(options: OpenAiCompatibleOptions & GuardOptions): Layer.Layer<Compactor> {
    return Layer.succeed(
      Compactor,
      Compactor.of(
        withDeadline(options.deadline ?? DEFAULT_DEADLINE, options)(makeOpenAiCompatibleCompactor(options)),
      ),
    )
  }

  /**
   * Picks the layer from configuration (environment variables by default), so the loop always runs:
   * `PERSONAPLEX_COMPACTOR_GGUF` → {@link Compactor.llamaCpp}; else `PERSONAPLEX_COMPACTOR_URL` (+ `_MODEL`,
   * `_API_KEY`) → {@link Compactor.openAiCompatible}; else {@link Compactor.modelFree}. Shared settings:
   * `_DEADLINE` ("20 seconds"), `_MAX_TOKENS` (300), `_TEMPERATURE` (0.3), `_OUTPUT` (json for GGUF, text for
   * HTTP), `_CONTEXT_SIZE` (4096), `_THREADS`, `_GPU` ("auto", "false", "cuda", "vulkan", "metal").
   */
  static readonly layerConfig: Layer.Layer<Compactor, CompactionError | Config.ConfigError> = Layer.unwrap(
    Effect.gen(function* () {
      const key = (name: string) => `PERSONAPLEX_COMPACTOR_${name}`
      const optional = <A>(config: Config.Config<A>) => Config.option(config)
      const settings = yield* Config.all({
        gguf: optional(Config.String(key("GGUF"))),
        url: optional(Config.String(key("URL"))),
        model: Config.String(key("MODEL")).pipe(Config.withDefault("default")),
        apiKey: optional(Config.String(key("API_KEY"))),
        deadline: Config.Duration(key("DEADLINE")).pipe(Config.withDefault(DEFAULT_DEADLINE)),
        maxTokens: Config.Int(key("MAX_TOKENS")).pipe(Config.withDefault(300)),
        temperature: Config.Number(key("TEMPERATURE")).pipe(Config.withDefault(0.3)),
        output: optional(Config.Literals(["json", "text"] as const, key("OUTPUT"))),
        contextSize: Config.Int(key("CONTEXT_SIZE")).pipe(Config.withDefault(4096)),
        threads: optional(Config.Int(key("THREADS"))),
        gpu: Config.Literals(["auto", "false", "cuda", "vulkan", "metal"] as const, key("GPU")).pipe(
          Config.withDefault("auto" as const),
        ),
      })
      const common = {
        deadline: settings.deadline,
        maxTokens: settings.maxTokens,
        temperature: settings.temperature,
        ...(Option.isSome(settings.output) ? { output: settings.output.value } : {}),
      }
      if (Option.isSome(settings.gguf))
        return Compactor.llamaCpp({
          ...common,
          modelPath: settings.gguf.value,
          contextSize: settings.contextSize,
          gpu: settings.gpu === "false" ? false : settings.gpu,
          ...(Option.isSome(settings.threads) ? { maxThreads: settings.threads.value } : {}),
        })
      if (Option.isSome(settings.url))
        return Compactor.openAiCompatible({
          ...common,
          baseUrl: settings.url.value,
          model: settings.model,
          ...(Option.isSome(settings.apiKey) ? { apiKey: settings.apiKey.value } : {}),
        })
      return Compactor.modelFree
    }),
  )

  /** Put any Compactor layer (a custom one included) behind a deadline with the deterministic fallback. */
  static withDeadline(
    deadline: Duration.Input,
    options: DeadlineOptions = {},
  ): <E, R>(layer: Layer.Layer<Compactor, E, R>) => Layer.Layer<Compactor, E, R> {
    return (layer) =>
      Layer.effect(
        Compactor,
        Effect.gen(function* () {
          const inner = yield* Compactor
          return Compactor.of(withDeadline(deadline, options)(inner))
        }),
      ).pipe(Layer.provide(layer))
  }
}
