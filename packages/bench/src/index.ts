/**
 * `@personaplex/bench`: the real-time benchmark of the PersonaPlex pipeline on an execution
 * provider (WebGPU on a GPU, the CPU provider in CI), and the GPU variant of the LM it measures:
 * one fused step graph (temporal + depformer, in-graph sampling) with float16 KV rings kept on
 * the device as session state, float16/int8/int4 weights converted from an upstream checkpoint
 * one tensor at a time across worker threads, batched prefill of known prompt rows, and
 * snapshot/restore of the state after the voice prompt.
 */
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
