import { type ElementType, GraphBuilder } from "@personaplex/runtime"
import type { Weights } from "../weights.ts"

/**
 * One streaming state tensor, fed as `state_in.<name>` and zero after reset. A plain state comes
 * back whole as `state_out.<name>`. A ring state (a KV cache) comes back as only this step's new
 * entries, `state_update.<name>`, which the caller writes into the ring along `ring.axis` at the
 * slots given by the `ring_slots` output: the large cache is never copied through the graph.
 */
export interface StateSpec {
  readonly name: string
  readonly type: "float32" | "int64"
  readonly dims: ReadonlyArray<number>
  readonly ring?: { readonly axis: number }
}

export const stateInput = (name: string) => `state_in.${name}`
export const stateOutput = (name: string) => `state_out.${name}`
export const stateUpdate = (name: string) => `state_update.${name}`
export const RING_SLOTS = "ring_slots"
/** Batched graphs: float32 `[batch]`, 1 where the row has a frame this run (its state advances), 0 where it pads (its state comes back as fed). */
export const LIVE_INPUT = "live"
/** Batched graphs: float32 `[batch]`, 1 where the row starts a new stream this run (its state is read as the start-of-stream state). */
export const FRESH_INPUT = "fresh"

export interface StepGraphOptions {
  /**
   * Ring states written by the graph itself and returned whole as `state_out.<name>`, like plain
   * states (their specs have no `ring`): the form for state kept on the device, where the caller
   * never sees the rings.
   */
  readonly ringsInGraph?: boolean
  /** Which provider's kernels the graph's forms suit (default `cpu`). See `GraphForms`. */
  readonly forms?: GraphForms
  /**
   * Streams stepped together (default 1): every input, state and output gains a leading row per
   * stream, and the graph takes `live` and `fresh` (`LIVE_INPUT`, `FRESH_INPUT`). Above 1 the rings
   * must be written in the graph (`ringsInGraph`). At 1 the graph is the unbatched one, node for node.
   */
  readonly batch?: number
}

/**
 * The same math in the forms that run fastest on each kind of provider. `cpu`: linear layers as
 * `Gemm` over the checkpoint's `[out, in]` weights, each nearest code by one `ArgMin` over the
 * codebook. `gpu`: linear layers as `MatMul` over weights stored transposed (`[in, out]`, which the
 * GPU reads coalesced), layer scales folded into those weights, and the nearest code searched as a grid, the row holding the smallest
 * distance and then the column within it, the same first minimum in two short scans (WebGPU's
 * `ArgMin` scans its axis in a single thread). Codes are the same; PCM differs by rounding only.
 */
export type GraphForms = "cpu" | "gpu"

/**
 * A GraphBuilder for one streaming step: weights by upstream name become initializers,
 * and every piece of streaming state is declared once as an input/output pair.
 */
export class StepGraph {
  readonly g: GraphBuilder
  readonly states: StateSpec[] = []
  private readonly pending = new Set<string>()
  private readonly weightNames = new Map<string, string>()

  private readonly weights: Weights
  readonly ringsInGraph: boolean
  readonly forms: GraphForms
  private readonly ringAxes = new Map<string, number>()
  private ringSlots: { readonly value: string; readonly steps: number } | undefined
  private readonly slotMaskCache = new Map<string, ReadonlyArray<string>>()
  readonly batch: number
  /** Batched graphs: each state's input as fed, which a padding row returns unchanged. */
  private readonly fedStates = new Map<string, string>()
  private readonly rowMaskCache = new Map<string, string>()
  private readonly batchedMaskCache = new Map<
    string,
    { readonly slots: ReadonlyArray<string>; readonly keep: string }
  >()

  constructor(name: string, weights: Weights, options: StepGraphOptions = {}) {
    this.g = new GraphBuilder(name, 21)
    this.weights = weights
    this.ringsInGraph = options.ringsInGraph ?? false
    this.forms = options.forms ?? "cpu"
    this.batch = options.batch ?? 1
    if (!Number.isInteger(this.batch) || this.batch < 1)
      throw new Error(`internal: batch must be a positive integer, got ${this.batch}`)
    if (this.batch > 1 && !this.ringsInGraph)
      throw new Error("internal: a batched step graph writes its rings in the graph (ringsInGraph)")
    if (this.batch > 1) {
      this.g.input(LIVE_INPUT, "float32", [this.batch])
      this.g.input(FRESH_INPUT, "float32", [this.batch])
    }
  }

  /** The leading dims of a per-stream value: `[]` unbatched, `[batch]` batched. */
  get rows(): ReadonlyArray<number> {
    return this.batch === 1 ? [] : [this.batch]
  }

  /**
   * Batched graphs: float `[batch, 1, …]` (rank `rank`), `input` (`live`/`fresh`) or one minus it.
   * The batched gates are products with these 0/1 masks, exact for finite values, not `Where`s:
   * ORT's transpose optimizer moves the key rings' Transposes through them, and a `Where`'s bool
   * mask would then need a Transpose WebGPU does not have.
   */
  private rowMask(input: string, rank: number, inverted: boolean): string {
    const key = `${input}:${rank}:${inverted}`
    const known = this.rowMaskCache.get(key)
    if (known) return known
    const rows = this.op("Reshape", [input, this.i64([this.batch, ...Array<number>(rank - 1).fill(1)])])
    const mask = inverted ? this.op("Sub", [this.f32(1), rows]) : rows
    this.rowMaskCache.set(key, mask)
    return mask
  }

  /** `a` where `mask` (0/1 floats) is 1, `b` where it is 0. */
  private select(mask: string, inverse: string, a: string, b: string): string {
    return this.op("Add", [this.op("Mul", [a, mask]), this.op("Mul", [b, inverse])])
  }

  /** A state's input: as fed, or in a batched graph with the rows that start afresh zeroed. */
  private stateValue(name: string, type: StateSpec["type"], dims: ReadonlyArray<number>): string {
    const fed = this.g.input(stateInput(name), type, dims)
    if (this.batch === 1) return fed
    if (type !== "float32") throw new Error(`internal: batched state "${name}" must be float32`)
    this.fedStates.set(name, fed)
    return this.op("Mul", [fed, this.rowMask(FRESH_INPUT, dims.length, true)])
  }

  /** A state's next value: `next`, or in a batched graph the fed value on the rows that pad. */
  private nextState(name: string, next: string, rank: number): string {
    const fed = this.fedStates.get(name)
    if (!fed) return next
    return this.select(this.rowMask(LIVE_INPUT, rank, false), this.rowMask(LIVE_INPUT, rank, true), next, fed)
  }

  /** The checkpoint tensor `name` as an initializer (optionally reshaped or transformed once). */
  weight(
    name: string,
    dims?: ReadonlyArray<number>,
    transform?: (data: Float32Array) => Float32Array,
    key = name,
  ): string {
    const existing = this.weightNames.get(key)
    if (existing) return existing
    const data = this.weights.get(name)
    if (!data) throw new Error(`internal: weight "${name}" was not loaded`)
    const value = this.g.initializer(key, {
      type: "float32",
      dims: dims ?? [data.length],
      data: transform ? transform(data) : data,
    })
    this.weightNames.set(key, value)
    return value
  }

  /**
   * `x · Wᵀ (+ bias)` for the checkpoint weight `name`, `[outDim, inDim]` (any layout of that many
   * values, e.g. a conv's `[out, in, k]`), in the graph's `forms`: one Gemm, or on a GPU `matMul`
   * then the bias added to its result (which ORT cannot fuse back into a Gemm).
   */
  linear(x: string, name: string, outDim: number, inDim: number, bias?: string): string {
    if (this.forms === "cpu")
      return this.op("Gemm", [x, this.weight(name, [outDim, inDim]), ...(bias ? [bias] : [])], { transB: 1 })
    const weight = this.weight(name, [inDim, outDim], (w) => transposed(w, outDim, inDim), `${name}.T`)
    const y = this.matMul(x, weight, inDim, outDim)
    return bias ? this.op("Add", [y, bias]) : y
  }

  /**
   * `x` `[M, inDim]` · `weight` `[inDim, outDim]` as a MatMul over the view `[1, M, inDim]`: ORT's
   * optimizer would fuse a MatMul whose result goes to an Add (a residual, a bias) into one Gemm,
   * the slow kernel on a GPU (it took 3.6 of the encoder's 11.1 ms of GPU kernels on the H100).
   */
  matMul(x: string, weight: string, inDim: number, outDim: number): string {
    const y = this.op("MatMul", [this.op("Reshape", [x, this.i64([1, -1, inDim])]), weight])
    return this.op("Reshape", [y, this.i64([-1, outDim])])
  }

  /**
   * `scale ⊙ (x · Wᵀ)` for the checkpoint weight `name` `[outDim, inDim]` and vector `scaleName`
   * `[outDim]` (a layer scale). On a GPU the scale is folded into the weight (one node fewer; each
   * product is rounded once before the dot product instead of after it).
   */
  scaledLinear(x: string, name: string, scaleName: string, outDim: number, inDim: number): string {
    if (this.forms === "cpu")
      return this.op("Mul", [this.weight(scaleName), this.linear(x, name, outDim, inDim)])
    const scale = this.weights.get(scaleName)
    if (!scale) throw new Error(`internal: weight "${scaleName}" was not loaded`)
    const scaled = (w: Float32Array) =>
      transposed(
        w.map((v, i) => v * scale[Math.floor(i / inDim)]!),
        outDim,
        inDim,
      )
    return this.matMul(x, this.weight(name, [inDim, outDim], scaled, `${name}.scaled.T`), inDim, outDim)
  }

  /** A derived float tensor (codebooks, norms) as an initializer. */
  tensor(name: string, dims: ReadonlyArray<number>, data: Float32Array): string {
    return this.g.initializer(name, { type: "float32", dims, data })
  }

  state(name: string, type: StateSpec["type"], dims: ReadonlyArray<number>): string {
    this.states.push({ name, type, dims })
    this.pending.add(name)
    return this.stateValue(name, type, dims)
  }

  setState(name: string, value: string): void {
    const spec = this.states.find((s) => s.name === name)
    if (!spec || spec.ring || !this.pending.delete(name))
      throw new Error(`internal: state "${name}" not declared or set twice`)
    this.g.output(this.nextState(name, value, spec.dims.length), stateOutput(name), spec.type, spec.dims)
  }

  /** A ring buffer state whose slots run along `axis`. */
  ringState(name: string, dims: ReadonlyArray<number>, axis: number): string {
    this.states.push(
      this.ringsInGraph ? { name, type: "float32", dims } : { name, type: "float32", dims, ring: { axis } },
    )
    this.ringAxes.set(name, axis)
    this.pending.add(name)
    // A batched ring's fresh and padding rows are handled by its write's masks (`batchedSlotMasks`).
    return this.g.input(stateInput(name), "float32", dims)
  }

  /**
   * This step's new ring entries (`dims` with `steps` along the ring axis). With `ringsInGraph`,
   * returns the ring with them written in; otherwise the caller writes them and gets `undefined`.
   */
  setRingUpdate(name: string, value: string, steps: number): string | undefined {
    const spec = this.states.find((s) => s.name === name)
    const axis = this.ringAxes.get(name)
    if (!spec || axis === undefined || !this.pending.delete(name))
      throw new Error(`internal: ring "${name}" not declared or set twice`)
    if (this.ringsInGraph) {
      const written = this.writeRing(stateInput(name), value, spec.dims, axis, steps)
      // The state output is a node of its own: the caller's attention reads `written`, and an output
      // that other nodes also read is copied out after the run, which a graph-capture replay skips.
      // Max(x, x) is an exact copy that ORT's optimizer keeps (it removes a × 1 as a no-op).
      this.g.output(this.op("Max", [written, written]), stateOutput(name), "float32", spec.dims)
      return written
    }
    this.g.output(
      value,
      stateUpdate(name),
      "float32",
      spec.dims.map((d, i) => (i === spec.ring!.axis ? steps : d)),
    )
    return undefined
  }

  /**
   * The ring slots this step writes (float32 integers), one per new entry (`[steps]`, or
   * `[batch, steps]` batched); declared once per graph.
   */
  setRingSlots(value: string, steps: number): void {
    if (this.ringsInGraph) this.ringSlots = { value, steps }
    else this.g.output(value, RING_SLOTS, "float32", [steps])
  }

  /**
   * `ring` with entry j of `update` written at slot j along `axis`, by `Where` over a one-hot mask
   * of the slot (float compares only: WebGPU has no int64 index arithmetic for a scatter). Batched,
   * `ring · keep + Σ entry_j · slot_j` over 0/1 float masks (see `batchedSlotMasks`).
   */
  private writeRing(
    ring: string,
    update: string,
    dims: ReadonlyArray<number>,
    axis: number,
    steps: number,
  ): string {
    const maskDims = dims.map((d, i) => (i === axis ? d : 1))
    const entry = (j: number) =>
      this.op("Slice", [update, this.i64([j]), this.i64([j + 1]), this.i64([axis])])
    if (this.batch > 1) {
      const { slots, keep } = this.batchedSlotMasks(maskDims, steps)
      let written = this.op("Mul", [ring, keep])
      for (const [j, slot] of slots.entries())
        written = this.op("Add", [written, this.op("Mul", [entry(j), slot])])
      return written
    }
    let written = ring
    for (const [j, mask] of this.slotMasks(maskDims, steps).entries())
      written = this.op("Where", [mask, entry(j), written])
    return written
  }

  /**
   * Batched rings' write masks (shape `maskDims` with the batch in front), 0/1 floats: `slots[j]`
   * is 1 at row b's slot for entry j where row b is live, `keep` is 1 where the ring keeps its value
   * (0 at the slots written, and everywhere on a live row that starts afresh). A padding row keeps
   * its whole ring. Products, not `Where`s: see `rowMask`.
   */
  private batchedSlotMasks(
    maskDims: ReadonlyArray<number>,
    steps: number,
  ): { readonly slots: ReadonlyArray<string>; readonly keep: string } {
    const key = `batched:${maskDims.join("x")}`
    const known = this.batchedMaskCache.get(key)
    if (known) return known
    const rank = maskDims.length
    const live = this.rowMask(LIVE_INPUT, rank, false)
    const slots = this.slotMasks(maskDims, steps).map((equal) =>
      this.op("Mul", [this.op("Cast", [equal], { to: 1 }), live]),
    )
    const written = slots.reduce((sum, slot) => this.op("Add", [sum, slot]))
    const restarted = this.op("Mul", [live, this.rowMask(FRESH_INPUT, rank, false)])
    const keep = this.op("Mul", [
      this.op("Sub", [this.f32(1), restarted]),
      this.op("Sub", [this.f32(1), written]),
    ])
    const masks = { slots, keep }
    this.batchedMaskCache.set(key, masks)
    return masks
  }

  /** One-hot masks (shape `maskDims`) of this step's ring slots, built once per shape for all rings. */
  private slotMasks(maskDims: ReadonlyArray<number>, steps: number): ReadonlyArray<string> {
    if (!this.ringSlots || this.ringSlots.steps !== steps)
      throw new Error("internal: ring slots not set before the ring update")
    const key = maskDims.join("x")
    const known = this.slotMaskCache.get(key)
    if (known) return known
    const positions = this.g.indices("float32", maskDims, "ring_positions")
    const slots = this.ringSlots.value
    const slot = (j: number) =>
      this.batch === 1
        ? this.op("Slice", [slots, this.i64([j]), this.i64([j + 1])])
        : this.op("Reshape", [
            this.op("Slice", [slots, this.i64([j]), this.i64([j + 1]), this.i64([1])]),
            this.i64([this.batch, ...Array<number>(maskDims.length - 1).fill(1)]),
          ])
    const masks = Array.from({ length: steps }, (_, j) => this.op("Equal", [positions, slot(j)]))
    this.slotMaskCache.set(key, masks)
    return masks
  }

  /** Every declared state has its next value. */
  finish(): void {
    if (this.pending.size > 0)
      throw new Error(`internal: states without a next value: ${[...this.pending].join(", ")}`)
  }

  op(
    opType: string,
    inputs: ReadonlyArray<string>,
    attributes: Parameters<GraphBuilder["op"]>[2] = {},
  ): string {
    return this.g.op(opType, inputs, attributes)
  }

  i64(values: ReadonlyArray<number>): string {
    return this.g.int64s(values)
  }

  f32(value: number): string {
    return this.g.scalar(value, "float32")
  }

  output(value: string, name: string, type: ElementType, dims: ReadonlyArray<number>): void {
    this.g.output(value, name, type, dims)
  }
}

/** `[rows, cols]` row-major → `[cols, rows]`. */
export const transposed = (data: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!
  return out
}
