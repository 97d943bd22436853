import { Metric } from "effect"

/** The loop's Effect metrics (read them with `Metric.value` or any metrics exporter). */
export const LoopMetrics = {
  /** Encode + LM step + decode time of one 80 ms frame. */
  frameMs: Metric.histogram("personaplex_loop_frame_ms", {
    description: "processing time of one 80 ms frame (encode, LM step, decode)",
    boundaries: [5, 10, 20, 40, 60, 80, 100, 160, 320, 640],
  }),
  /** Frames whose processing exceeded the 80 ms frame budget. */
  lateFrames: Metric.counter("personaplex_loop_late_frames", {
    description: "frames processed slower than real time",
  }),
  /** Time the compactor took for one switch. */
  compactionMs: Metric.histogram("personaplex_loop_compaction_ms", {
    description: "compaction time at a window switch",
    boundaries: [10, 50, 100, 250, 500, 1000, 2000, 4000, 8000],
  }),
  /** Wall time between a window's last frame and the next window being ready. */
  pauseMs: Metric.histogram("personaplex_loop_pause_ms", {
    description: "pause length at a window switch",
    boundaries: [50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000],
  }),
  /** Time to inject a system prompt (voice, silence, text, silence). */
  promptMs: Metric.histogram("personaplex_loop_prompt_ms", {
    description: "system prompt injection time",
    boundaries: [10, 50, 100, 250, 500, 1000, 2000, 4000],
  }),
  windows: Metric.counter("personaplex_loop_windows", { description: "conversation windows started" }),
}
