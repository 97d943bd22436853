/**
 * Tiny models the worker runs to allocate device memory and to copy into and out of it:
 * onnxruntime-node has no call that allocates or fills a GPU buffer, but a session whose outputs
 * live on the device allocates one, and a session given a preallocated output fills it.
 */
import { GraphBuilder } from "./onnx/GraphBuilder.ts"
import type { TensorType } from "./ortProtocol.ts"

export interface ValueSpec {
  readonly name: string
  readonly type: TensorType
  readonly dims: ReadonlyArray<number>
}

/** One output per value, named like it, filled with zeros. */
export const zerosModel = (values: ReadonlyArray<ValueSpec>): Uint8Array => {
  const g = new GraphBuilder("zeros", 18)
  for (const v of values) {
    const zero = g.constant(v.type, [], v.type === "int64" ? [0n] : [0])
    g.output(g.op("Expand", [zero, g.int64s([...v.dims])]), v.name, v.type, v.dims)
  }
  return g.toBytes()
}

/** One Identity per value: input `name`, output `prefix + name` (to fill or read a preallocated buffer). */
export const copyModel = (values: ReadonlyArray<ValueSpec>, prefix: string): Uint8Array => {
  const g = new GraphBuilder("copy", 18)
  for (const v of values)
    g.output(g.op("Identity", [g.input(v.name, v.type, [...v.dims])]), `${prefix}${v.name}`, v.type, v.dims)
  return g.toBytes()
}
