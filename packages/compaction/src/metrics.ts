import { Metric } from "effect"

/** The compaction package's Effect metrics (read them with `Metric.value` or any exporter). */
export const CompactionMetrics = {
  /** Time a compactor took to write a prompt (successful compactions, any backend). */
  durationMs: Metric.histogram("personaplex_compaction_ms", {
    description: "time to write the next system prompt",
    boundaries: [1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000],
  }),
  /** Compactions replaced by the deterministic fallback (deadline passed, model error, bad output). */
  fallbacks: Metric.counter("personaplex_compaction_fallbacks", {
    description: "compactions that fell back to the deterministic summary",
  }),
}
