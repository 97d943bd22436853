/**
 * The resident pools' values that one session reads or writes (`SessionSpec.shared`): which of its
 * inputs and outputs they are, and the copies between the host and their buffers.
 */
import * as ort from "onnxruntime-node"
import { disposeWrappers, plain, shapeOf } from "./captureBuffers.ts"
import { copyModel } from "./deviceModels.ts"
import type { Feeds, OrtTensor, SharedValue } from "./ortProtocol.ts"

type Provider = string | ort.InferenceSession.ExecutionProviderConfig

export interface SharedIo {
  /** The pool buffer of each shared input, by input name. */
  readonly inputs: ReadonlyMap<string, ort.Tensor>
  /** The pool buffer of each shared output, by output name. */
  readonly outputs: ReadonlyMap<string, ort.Tensor>
  /** Copy the feeds of shared inputs into their buffers; returns the other feeds, for the run. */
  write(feeds: Feeds): Promise<Feeds>
  /** Copy a run's result for a shared output into its buffer (for runs that cannot write it in place). */
  store(name: string, result: ort.Tensor): Promise<void>
  /** Copy the buffers of the named shared outputs to the host. */
  read(names: ReadonlyArray<string>): Promise<Record<string, OrtTensor>>
  release(): Promise<void>
}

export const noSharedIo: SharedIo = {
  inputs: new Map(),
  outputs: new Map(),
  write: async (feeds) => feeds,
  store: async () => {},
  read: async () => ({}),
  release: async () => {},
}

export const makeSharedIo = async (
  session: ort.InferenceSession,
  values: ReadonlyArray<SharedValue>,
  bufferOf: (value: SharedValue) => ort.Tensor,
  provider: Provider,
): Promise<SharedIo> => {
  if (values.length === 0) return noSharedIo
  const inputs = new Map<string, ort.Tensor>()
  const outputs = new Map<string, ort.Tensor>()
  for (const v of values) {
    const into = session.inputNames.includes(v.name)
      ? inputs
      : session.outputNames.includes(v.name)
        ? outputs
        : undefined
    if (!into) throw new Error(`shared value ${v.name} is neither an input nor an output of the session`)
    into.set(v.name, bufferOf(v))
  }
  const onDevice = [...inputs.values(), ...outputs.values()].some((t) => t.location === "gpu-buffer")
  const copier = (v: SharedValue, prefix: string) =>
    ort.InferenceSession.create(copyModel([v], prefix), {
      executionProviders: [provider],
      graphOptimizationLevel: "disabled",
    })
  const writers = new Map<string, ort.InferenceSession>()
  const readers = new Map<string, ort.InferenceSession>()
  if (onDevice) {
    for (const v of values) writers.set(v.name, await copier(v, "into:"))
    for (const v of values) if (outputs.has(v.name)) readers.set(v.name, await copier(v, "host:"))
  }
  /** Copy `value` (on the host or the device) into `buffer`. */
  const copyInto = async (name: string, buffer: ort.Tensor, value: ort.Tensor) => {
    const writer = writers.get(name)
    if (!writer) {
      ;(buffer.data as OrtTensor["data"]).set(value.data as never)
      return
    }
    const into = { [`into:${name}`]: buffer }
    disposeWrappers(await writer.run({ [name]: value }, into), into)
  }
  return {
    inputs,
    outputs,
    write: async (feeds) => {
      const rest: Record<string, OrtTensor> = {}
      for (const [name, t] of Object.entries(feeds)) {
        const buffer = inputs.get(name)
        if (!buffer) {
          rest[name] = t
          continue
        }
        if (t.type !== buffer.type || t.dims.join() !== buffer.dims.join())
          throw new Error(`shared input ${name} is ${shapeOf(buffer)}, the feed is ${shapeOf(t)}`)
        await copyInto(name, buffer, new ort.Tensor(t.type, t.data as never, t.dims))
      }
      return rest
    },
    store: (name, result) => copyInto(name, outputs.get(name)!, result),
    read: async (names) => {
      const out: Record<string, OrtTensor> = {}
      for (const name of names) {
        const buffer = outputs.get(name)!
        const reader = readers.get(name)
        if (!reader) {
          // A copy: the result goes to the caller's thread, and the buffer stays in the pool.
          out[name] = { ...plain(buffer), data: (buffer.data as OrtTensor["data"]).slice() }
          continue
        }
        const copied = await reader.run({ [name]: buffer })
        out[name] = plain(copied[`host:${name}`]!)
      }
      return out
    },
    release: async () => {
      for (const s of [...writers.values(), ...readers.values()]) await s.release()
    },
  }
}
