/**
 * A tiny model the worker runs to allocate device memory: onnxruntime-node has no call that
 * allocates a GPU buffer, but a session whose outputs live on the device does exactly that.
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
