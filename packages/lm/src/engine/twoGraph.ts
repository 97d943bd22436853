import { Effect } from "effect"
import { LmConfigError } from "../errors.ts"
import type { MoshiLmShape, Sampler } from "../MoshiLm.ts"
import type { EngineStepInput, EngineStepOutput, LmEngineShape } from "./LmEngine.ts"

const greedy = (vocab: number): Sampler => ({ temperature: 1, topK: 1, noise: new Float32Array(vocab) })

/** The two-graph form (`MoshiLm`: temporal step + depformer loop) behind the engine contract. */
export const twoGraphEngine = (
  lm: MoshiLmShape,
  options: { readonly returnLogits?: boolean } = {},
): LmEngineShape => {
  const returnLogits = options.returnLogits ?? false
  const { config, depformerSteps } = lm
  const step = (input: EngineStepInput) =>
    Effect.gen(function* () {
      const temporal = yield* lm.temporal({
        tokens: input.tokens,
        text: input.text,
        returnLogits,
        ...(input.extraEmbedding ? { extraEmbedding: input.extraEmbedding } : {}),
      })
      const mask = input.forcedMask.subarray(0, depformerSteps)
      // Every token provided and no logits asked for: nothing the depformer samples would be kept.
      if (input.textForced !== undefined && mask.every((m) => m === 1) && !returnLogits)
        return {
          textToken: input.textForced,
          audioTokens: input.forced.slice(0, depformerSteps),
        } satisfies EngineStepOutput
      const depformer = yield* lm.depformer({
        hidden: temporal.hidden,
        text: input.textForced ?? temporal.textToken,
        forced: input.forced,
        forcedMask: input.forcedMask,
        audio: input.audio,
        returnLogits,
      })
      return {
        textToken: temporal.textToken,
        audioTokens: depformer.tokens,
        ...(temporal.textLogits ? { textLogits: temporal.textLogits } : {}),
        ...(depformer.logits ? { audioLogits: depformer.logits } : {}),
      } satisfies EngineStepOutput
    }).pipe(Effect.uninterruptible)

  const prefill: LmEngineShape["prefill"] = (rows, prefillOptions = {}) =>
    Effect.gen(function* () {
      const embeddings = prefillOptions.embeddings ? new Float32Array(rows.length * config.dim) : undefined
      const text = greedy(config.textCard)
      for (const [t, tokens] of rows.entries()) {
        const extra = prefillOptions.extra?.subarray(t * config.dim, (t + 1) * config.dim)
        const out = yield* Effect.uninterruptible(
          lm.temporal({ tokens, text, ...(extra ? { extraEmbedding: extra } : {}) }),
        )
        embeddings?.set(out.embedding, t * config.dim)
      }
      return embeddings
    })

  return {
    form: "two-graph",
    provider: lm.provider,
    config,
    context: lm.context,
    depformerSteps,
    quantization: lm.quantization,
    graphSource: lm.graphSource,
    capacity: undefined,
    cheapSnapshots: false,
    position: lm.position,
    step,
    prefill,
    reset: lm.reset,
    snapshot: Effect.map(lm.snapshot, (s) => ({ form: "two-graph" as const, ...s })),
    restore: (state) =>
      state.form !== "two-graph" || state.caches === undefined
        ? Effect.fail(new LmConfigError({ field: "state", reason: `a ${state.form} engine's snapshot` }))
        : lm.restore({ position: state.position, caches: state.caches }),
  }
}
