import { Effect, Metric } from "effect"

const stepBoundaries = [1, 2, 5, 10, 20, 40, 60, 80, 120, 160, 320]

/** The LM's Effect metrics (read them with `Metric.value` or any metrics exporter). */
export const LmMetrics = {
  /** Wall time of one temporal-transformer step, worker round trip included. */
  temporalMs: Metric.histogram("personaplex_lm_temporal_ms", {
    description: "Moshi temporal transformer step time per 80 ms frame",
    boundaries: stepBoundaries,
  }),
  /** Wall time of one frame's depformer loop, worker round trip included. */
  depformerMs: Metric.histogram("personaplex_lm_depformer_ms", {
    description: "Moshi depformer loop time per 80 ms frame",
    boundaries: stepBoundaries,
  }),
  /** Wall time of a whole system prompt (reset, voice, silence, text, silence). */
  promptMs: Metric.histogram("personaplex_lm_prompt_ms", {
    description: "PersonaPlex system prompt (prefill) time",
    boundaries: [100, 250, 500, 1000, 2000, 4000, 8000, 16000],
  }),
}

/** Run `effect` and record its wall time in milliseconds. */
export const timed =
  (metric: Metric.Metric<number, unknown>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const start = performance.now()
      return Effect.tap(effect, () => Metric.update(metric, performance.now() - start))
    })
