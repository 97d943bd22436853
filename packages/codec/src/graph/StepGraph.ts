import { type ElementType, GraphBuilder } from "@personaplex/runtime"
import type { Weights } from "../weights.ts"

/** One streaming state tensor: fed as `state_in.<name>`, returned as `state_out.<name>`, zero after reset. */
export interface StateSpec {
  readonly name: string
  readonly type: "float32" | "int64"
  readonly dims: ReadonlyArray<number>
}

export const stateInput = (name: string) => `state_in.${name}`
export const stateOutput = (name: string) => `state_out.${name}`

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

  constructor(name: string, weights: Weights) {
    this.g = new GraphBuilder(name, 21)
    this.weights = weights
  }

  /** The checkpoint tensor `name` as an initializer (optionally reshaped or transformed once). */
  weight(name: string, dims?: ReadonlyArray<number>, transform?: (data: Float32Array) => Float32Array, key = name): string {
    const existing = this.weightNames.get(key)
    if (existing) return existing
    const data = this.weights.get(name)
    if (!data) throw new Error(`internal: weight "${name}" was not loaded`)
    const value = this.g.initializer(key, { type: "float32", dims: dims ?? [data.length], data: transform ? transform(data) : data })
    this.weightNames.set(key, value)
    return value
  }

  /** A derived float tensor (codebooks, norms) as an initializer. */
  tensor(name: string, dims: ReadonlyArray<number>, data: Float32Array): string {
    return this.g.initializer(name, { type: "float32", dims, data })
  }

  state(name: string, type: StateSpec["type"], dims: ReadonlyArray<number>): string {
    this.states.push({ name, type, dims })
    this.pending.add(name)
    return this.g.input(stateInput(name), type, dims)
  }

  setState(name: string, value: string): void {
    const spec = this.states.find((s) => s.name === name)
    if (!spec || !this.pending.delete(name)) throw new Error(`internal: state "${name}" not declared or set twice`)
    this.g.output(value, stateOutput(name), spec.type, spec.dims)
  }

  /** Every declared state has its next value. */
  finish(): void {
    if (this.pending.size > 0) throw new Error(`internal: states without a next value: ${[...this.pending].join(", ")}`)
  }

  op(opType: string, inputs: ReadonlyArray<string>, attributes: Parameters<GraphBuilder["op"]>[2] = {}): string {
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
