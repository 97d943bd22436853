/** Messages between `OrtSession` (main thread) and `ortWorker` (the thread that runs onnxruntime). */

export type ExecutionProvider = "cuda" | "webgpu" | "cpu"

export type TensorType = "float32" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool"

/** A tensor crossing the thread boundary: plain data, structured-cloneable. */
export interface OrtTensor {
  readonly type: TensorType
  readonly dims: ReadonlyArray<number>
  readonly data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array
}

export type Feeds = Readonly<Record<string, OrtTensor>>

/**
 * A recurrent tensor that stays inside the worker between runs: each run feeds the current value
 * as `input` and keeps the `output` it produces as the next value. Starts as zeros of `dims`.
 * KV caches and streaming buffers use this so they never cross the thread boundary.
 */
export interface StateBinding {
  readonly input: string
  readonly output: string
  readonly type: TensorType
  readonly dims: ReadonlyArray<number>
}

/**
 * Settings of onnxruntime's WebGPU provider. Its device context is made once per process (per
 * device) by the first WebGPU session and shared by the later ones, so give every WebGPU session
 * of a process the same settings.
 */
export interface WebGpuOptions {
  /**
   * Dawn's checking of each WebGPU call (default: onnxruntime's). `disabled` skips it: less host time per
   * kernel dispatch, and a bad call is no longer reported.
   */
  readonly validationMode?: "disabled" | "wgpuOnly" | "basic" | "full"
  /**
   * Per session: record the session's GPU work at its first run and replay it at every later run
   * (onnxruntime's WebGPU graph capture), which spares the host its per-kernel dispatch cost. A
   * replayed run reads its inputs from fixed device buffers and writes its outputs to fixed device
   * buffers: the worker copies the feeds in (one extra run of a copy model) and the outputs out (another).
   * So every replayed run must feed the shapes of the first one, and the outputs' shapes must be fixed
   * in the model. Runs with `live: true` (`RunOptions`) go node by node outside the captured graph,
   * with any shapes. Needs the native options shim (`native/ortOptionsShim.cc`) and every node on the
   * WebGPU provider. `state` bindings live in two fixed buffer sets that runs alternate between, each
   * direction a captured graph of its own; reset, snapshots and restores copy into and out of them.
   *
   * What onnxruntime's capture leaves to the model: an output that another node also reads is copied
   * to its buffer outside the captured graph, so a replay leaves it stale (give such an output its own
   * node); the capturing run executes the graph more than once, so in-place updates of `resident`
   * buffers must be idempotent (a KV cache written at a position is; an accumulator is not).
   */
  readonly graphCapture?: boolean
}

export interface RunOptions {
  /** For a graph-capture session: run node by node, outside the captured graph. Ignored otherwise. */
  readonly live?: boolean
  /**
   * Move the feeds' buffers to the worker instead of copying them: no copy on the calling thread, and
   * the caller's arrays are left detached (empty). For large feeds made fresh for each run.
   */
  readonly transferFeeds?: boolean
}

export interface SessionSpec {
  /** An `.onnx` path (external data resolved beside it) or the model's bytes. */
  readonly model: string | Uint8Array
  /** Tried in order; the first that creates the session wins. Defaults to the layer's list. */
  readonly executionProviders?: ReadonlyArray<ExecutionProvider>
  readonly intraOpThreads?: number
  /**
   * Let idle intra-op threads spin for more work (onnxruntime's default, true): the lowest latency
   * for back-to-back runs, but spinning threads take CPU time from other sessions of the process
   * (a host-bound GPU session beside a CPU codec, say).
   */
  readonly intraOpSpinning?: boolean
  /** WebGPU provider settings (see `WebGpuOptions`); ignored by the other providers. */
  readonly webGpu?: WebGpuOptions
  /** Memory-map external weights instead of copying them for pre-packing (big models). */
  readonly disablePrepacking?: boolean
  /** Fail instead of silently running nodes on the CPU when a GPU provider lacks a kernel. */
  readonly disableCpuFallback?: boolean
  readonly graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all"
  /** Recurrent tensors kept by the worker (see `StateBinding`). */
  readonly state?: ReadonlyArray<StateBinding>
  /** Keep state values in GPU memory between runs (WebGPU); ignored by the CPU provider. */
  readonly stateOnDevice?: boolean
  /** Tensors updated in place on the device and shared with other sessions (see `ResidentState`). */
  readonly resident?: ResidentState
  /** Inputs and outputs kept in buffers that other sessions of the worker read or write (see `SharedValue`). */
  readonly shared?: ReadonlyArray<SharedValue>
  /**
   * Record onnxruntime's profile (a Chrome-trace JSON of every node run, host-side times) to a
   * file starting with this path; written when the session is released.
   */
  readonly profileFilePrefix?: string
}

/**
 * Device buffers that a run reads and writes in place: `input` and `output` of each binding are
 * bound to the same buffer (onnxruntime's static KV cache: GroupQueryAttention's past and present
 * sharing one buffer). They live in the worker under `pool`; sessions that name the same pool
 * share the buffers. Made once as zeros and never cleared: callers track which part is valid (a
 * sequence length). Several bindings may name one input: each of their outputs writes that buffer
 * (nodes run one after another that all update one cache, as a depformer's steps do). Such an output
 * must not be read by another node: onnxruntime then computes it elsewhere and copies it to the buffer
 * at the end of the run, over what later nodes wrote (seen on WebGPU).
 *
 * The output is given to the run as a preallocated GPU fetch; onnxruntime-node 1.30 fills it only
 * because these outputs have no `preferredOutputLocation` (with one it returns a new buffer instead:
 * `bench/probe/preallocated-fetch-probe.mjs`). Sound where the node may write its output over its
 * input (GroupQueryAttention's present on its past, an elementwise op).
 */
export interface ResidentState {
  readonly pool: string
  readonly bindings: ReadonlyArray<StateBinding>
}

/**
 * An input or an output of a session that lives in buffer `buffer` of the worker's resident pool
 * `pool` (made as zeros by the first session naming it), so that one session's output reaches
 * another session's input without leaving the device (a codec's codes handed to the LM step, say).
 * As an input, a run reads the buffer as it is, unless the run feeds the value: the feed is then
 * copied into the buffer first. As an output, a run writes the buffer, and fetching the value
 * copies it out. Sessions of one worker naming the same pool and buffer share it.
 */
export interface SharedValue {
  /** The session's input or output. */
  readonly name: string
  readonly pool: string
  readonly buffer: string
  readonly type: TensorType
  readonly dims: ReadonlyArray<number>
}

export type StateAction =
  | { readonly action: "reset" }
  | { readonly action: "snapshot"; readonly key: string }
  | { readonly action: "restore"; readonly key: string }
  | { readonly action: "drop"; readonly key: string }
  | { readonly action: "read" }

export type Request =
  | {
      readonly id: number
      readonly kind: "create"
      readonly spec: SessionSpec & { readonly executionProviders: ReadonlyArray<ExecutionProvider> }
    }
  | {
      readonly id: number
      readonly kind: "run"
      readonly session: number
      readonly feeds: Feeds
      readonly fetches?: ReadonlyArray<string>
      readonly live?: boolean
    }
  | { readonly id: number; readonly kind: "release"; readonly session: number }
  | { readonly id: number; readonly kind: "state"; readonly session: number; readonly state: StateAction }
  /** Release every session after the queued requests, then end the thread. */
  | { readonly id: number; readonly kind: "shutdown" }

export interface Created {
  readonly session: number
  readonly provider: ExecutionProvider
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  /** Providers tried before `provider`, with why each failed. */
  readonly fallbacks: ReadonlyArray<{ readonly provider: ExecutionProvider; readonly reason: string }>
}

export type Response =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly reason: string }
