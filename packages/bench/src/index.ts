/**
 * `@personaplex/bench`: the real-time benchmark of the PersonaPlex pipeline on an execution
 * provider (WebGPU on a GPU, the CPU provider in CI), measured through the code the loop runs:
 * `LmGen` on the fused engine (weights converted and cached by `@personaplex/lm`) and `MimiCodec`.
 */

export {
  type BatchBenchOptions,
  type BatchBenchReport,
  type BatchRun,
  renderBatchTable,
  runBatchBench,
} from "./batchBench.ts"
export {
  type BenchOptions,
  type BenchReport,
  defaultVariants,
  FRAME_SCHEDULES,
  type FrameFigures,
  type FrameSchedule,
  type LmVariant,
  parseVariant,
  type RunResult,
  runBench,
  type Summary,
  summarize,
  UPSTREAM,
  variantName,
} from "./bench.ts"
export { BENCH_MODELS, type BenchModels } from "./configs.ts"
export {
  findProfile,
  type GpuKernelSummary,
  type ProfileSummary,
  summarizeGpuKernels,
  summarizeProfile,
  type TraceEvent,
} from "./profile.ts"
export { renderTable } from "./report.ts"
