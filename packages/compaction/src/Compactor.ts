import { Context, Duration, Effect, Layer } from "effect"
import { withDeadline, type DeadlineOptions } from "./deadline.ts"
import type { CompactionError } from "./errors.ts"
import { extractivePrompt } from "./extractive.ts"
import { acquireLlamaEngine, type LlamaCppOptions, makeLlamaCppCompactor } from "./llamaCpp.ts"
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
export class Compactor extends Context.Service<Compactor, CompactorShape>()("@personaplex/compaction/Compactor") {
  /** Extractive and deterministic: what the loop uses when no model is configured. */
  static readonly modelFree: Layer.Layer<Compactor> = Layer.succeed(Compactor, Compactor.of(modelFreeCompactor))

  /**
   * A local GGUF model through node-llama-cpp, loaded once when the layer is built and released
   * when its scope closes. Results past the deadline, model errors and unparseable answers become
   * the deterministic fallback (`source: "fallback"`).
   */
  static llamaCpp(options: LlamaCppOptions & GuardOptions): Layer.Layer<Compactor, CompactionError> {
    return Layer.effect(
      Compactor,
      Effect.gen(function* () {
        const engine = yield* acquireLlamaEngine(options)
        const compactor = yield* makeLlamaCppCompactor(engine, options)
        return Compactor.of(withDeadline(options.deadline ?? DEFAULT_DEADLINE, options)(compactor))
      }),
    )
  }

  /** An OpenAI-compatible endpoint (llama-server, Ollama, vLLM), with per-request timeouts, retries and the deadline. */
  static openAiCompatible(options: OpenAiCompatibleOptions & GuardOptions): Layer.Layer<Compactor> {
    return Layer.succeed(
      Compactor,
      Compactor.of(withDeadline(options.deadline ?? DEFAULT_DEADLINE, options)(makeOpenAiCompatibleCompactor(options))),
    )
  }

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
