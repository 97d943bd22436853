import type { ExecutionProvider } from "@personaplex/runtime"
import type { Effect } from "effect"
import type { Quantization } from "./graph/quantize.ts"
import type { LmConfig } from "./LmConfig.ts"

/** What every opened LM tells about itself (the two-graph `MoshiLm` and each engine form): the model, where it runs, its position. */
export interface LmBaseShape {
  /** The execution provider onnxruntime opened its sessions on (not necessarily the one asked for). */
  readonly provider: ExecutionProvider
  readonly config: LmConfig
  /** Attention window in frames. */
  readonly context: number
  readonly depformerSteps: 8 | 16
  readonly quantization: Quantization
  /** Whether the graphs (or converted weights) were made now or taken from the cache. */
  readonly graphSource: "built" | "cache"
  /** Frames run since the last reset (the next frame's position). */
  readonly position: Effect.Effect<number>
}
