import { Effect, Metric } from "effect"

const boundaries = [1, 2, 5, 10, 20, 40, 60, 80, 120, 160, 320]

/** The codec's Effect metrics (read them with `Metric.value` or any metrics exporter). */
export const CodecMetrics = {
  /** Wall time of one streaming encode (1920 samples → 8 codes), including the worker round trip. */
  encodeMs: Metric.histogram("personaplex_codec_encode_ms", {
    description: "Mimi streaming encode time per 80 ms frame",
    boundaries,
  }),
  /** Wall time of one streaming decode (8 codes → 1920 samples), including the worker round trip. */
  decodeMs: Metric.histogram("personaplex_codec_decode_ms", {
    description: "Mimi streaming decode time per 80 ms frame",
    boundaries,
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
