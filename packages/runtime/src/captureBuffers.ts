/**
 * The fixed device buffers of a WebGPU graph-capture session (`WebGpuOptions.graphCapture`), and the
 * small sessions that fill, copy and read them: a replay runs on the buffers it captured, whatever
 * the run is handed, so every value it reads or writes must live at one address for good.
 */
import * as ort from "onnxruntime-node"
import { copyModel, type ValueSpec, zerosModel } from "./deviceModels.ts"
import type { Feeds, OrtTensor, StateBinding } from "./ortProtocol.ts"

type Provider = string | ort.InferenceSession.ExecutionProviderConfig

const onDevice = (provider: Provider) =>
  ({
    executionProviders: [provider],
    graphOptimizationLevel: "disabled",
    preferredOutputLocation: "gpu-buffer",
  }) as const

/** A run's results for preallocated fetches are new wrappers of the given buffers: drop the wrappers. */
export const disposeWrappers = (
  results: Record<string, ort.Tensor>,
  preallocated: Record<string, ort.Tensor>,
) => {
  for (const name of Object.keys(preallocated)) {
    results[name]?.dispose()
    delete results[name]
  }
}

/**
 * Zero-filled device buffers for each group of values (a map by value name per group), and the
 * session that made them: it must outlive them (disposing a GPU output after its session was
 * released crashes onnxruntime-node 1.30).
 */
export const zerosOnDevice = async (groups: ReadonlyArray<ReadonlyArray<ValueSpec>>, provider: Provider) => {
  const named = (g: number, v: ValueSpec) => `${g}:${v.name}`
  const maker = await ort.InferenceSession.create(
    zerosModel(groups.flatMap((values, g) => values.map((v) => ({ ...v, name: named(g, v) })))),
    onDevice(provider),
  )
  const made = await maker.run({})
  const sets = groups.map((values, g) => new Map(values.map((v) => [v.name, made[named(g, v)]!])))
  return { maker, sets }
}

export const plain = (t: ort.Tensor): OrtTensor => ({
  type: t.type as OrtTensor["type"],
  dims: [...t.dims],
  data: t.data as OrtTensor["data"],
})

export const shapeOf = (t: { readonly type: string; readonly dims: ReadonlyArray<number> }) =>
  `${t.type}[${t.dims.join(", ")}]`

/** Fixed buffers for the inputs (shaped by the first captured run's feeds) and the outputs (as declared). */
export interface IoBuffers {
  readonly inputs: Map<string, ort.Tensor>
  readonly outputs: Map<string, ort.Tensor>
  /** Copies host feeds into `inputs` (outputs named `staged:<input>`); none without inputs. */
  readonly uploader?: ort.InferenceSession
  /** Copies `outputs` to the host (outputs named `host:<output>`); none without outputs. */
  readonly downloader?: ort.InferenceSession
  readonly maker?: ort.InferenceSession
}

export const makeIoBuffers = async (
  session: ort.InferenceSession,
  feeds: Feeds,
  /** Outputs bound elsewhere (resident or state buffers). */
  bound: ReadonlySet<string>,
  provider: Provider,
): Promise<IoBuffers> => {
  const outputs = session.outputMetadata.flatMap((m): ValueSpec[] => {
    if (bound.has(m.name)) return []
    if (!m.isTensor || m.shape.some((d) => typeof d !== "number"))
      throw new Error(
        `graph capture needs every output's shape fixed in the model: ${m.name} is ${m.isTensor ? `[${m.shape.join(", ")}]` : "not a tensor"}`,
      )
    return [{ name: m.name, type: m.type as OrtTensor["type"], dims: m.shape as number[] }]
  })
  const inputs = Object.entries(feeds).map(([name, t]) => ({ name, type: t.type, dims: t.dims }))
  // A run whose inputs and outputs all live in bound buffers has nothing to copy.
  if (inputs.length === 0 && outputs.length === 0) return { inputs: new Map(), outputs: new Map() }
  const {
    maker,
    sets: [fixedInputs, fixedOutputs],
  } = await zerosOnDevice([inputs, outputs], provider)
  const copier = (values: ReadonlyArray<ValueSpec>, prefix: string) =>
    values.length === 0
      ? undefined
      : ort.InferenceSession.create(copyModel(values, prefix), { executionProviders: [provider] })
  const [uploader, downloader] = await Promise.all([copier(inputs, "staged:"), copier(outputs, "host:")])
  return {
    inputs: fixedInputs!,
    outputs: fixedOutputs!,
    ...(uploader ? { uploader } : {}),
    ...(downloader ? { downloader } : {}),
    maker,
  }
}

/** Copy `feeds` into the fixed inputs; they must be the first captured run's inputs and shapes. */
export const upload = async (io: IoBuffers, feeds: Feeds) => {
  const hostFeeds: Record<string, ort.Tensor> = {}
  const staged: Record<string, ort.Tensor> = {}
  for (const [name, fixed] of io.inputs) {
    const t = feeds[name]
    if (!t) throw new Error(`a graph-captured run feeds every input of the first one: ${name} is missing`)
    if (t.type !== fixed.type || t.dims.join() !== fixed.dims.join())
      throw new Error(
        `a graph-captured run feeds the first run's shapes: ${name} was ${shapeOf(fixed)}, now ${shapeOf(t)} (run it live)`,
      )
    hostFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims)
    staged[`staged:${name}`] = fixed
  }
  for (const name of Object.keys(feeds))
    if (!io.inputs.has(name))
      throw new Error(`a graph-captured run feeds the first run's inputs: ${name} is new`)
  if (io.uploader) disposeWrappers(await io.uploader.run(hostFeeds, staged), staged)
}

/** Copy the fixed outputs named in `fetches` to the host. */
export const download = async (
  io: IoBuffers,
  fetches: ReadonlyArray<string>,
): Promise<Record<string, OrtTensor>> => {
  for (const name of fetches)
    if (!io.outputs.has(name)) throw new Error(`a graph-captured run has no output ${name} to fetch`)
  if (!io.downloader || fetches.length === 0) return {}
  const copied = await io.downloader.run(
    Object.fromEntries(io.outputs),
    fetches.map((n) => `host:${n}`),
  )
  return Object.fromEntries(fetches.map((n) => [n, plain(copied[`host:${n}`]!)]))
}

export const releaseIoBuffers = async (io: IoBuffers) => {
  for (const t of [...io.inputs.values(), ...io.outputs.values()]) t.dispose()
  await io.uploader?.release()
  await io.downloader?.release()
  await io.maker?.release()
}

/**
 * The recurrent state (`StateBinding`s) of a graph-capture session in two fixed sets of device
 * buffers: a run reads one set and writes the other, and each direction is a captured graph of its
 * own (run-config `gpu_graph_id` 1 and 2), so every replay finds the buffers it captured. Reset,
 * snapshots and restores copy values in and out of the current set.
 */
export interface PingPongState {
  /** The next run's state inputs, the buffers it writes, and the captured graph of that direction. */
  next(): {
    readonly feeds: Record<string, ort.Tensor>
    readonly fetches: Record<string, ort.Tensor>
    readonly graph: string
  }
  /** After a run: the set it wrote is the current state. */
  advance(): void
  zero(): Promise<void>
  /** A copy of the current state in new device buffers (dispose them before `release`). */
  snapshot(): Promise<Map<string, ort.Tensor>>
  restore(snapshot: ReadonlyMap<string, ort.Tensor>): Promise<void>
  read(): Promise<Record<string, OrtTensor>>
  release(): Promise<void>
}

export const makePingPongState = async (
  bindings: ReadonlyArray<StateBinding>,
  provider: Provider,
): Promise<PingPongState> => {
  const values = bindings.map((b) => ({ name: b.input, type: b.type, dims: b.dims }))
  const { maker, sets } = await zerosOnDevice([values, values], provider)
  const filling = (model: Uint8Array) =>
    ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: "disabled" })
  // The copier's outputs are new device buffers; the others fill buffers they are given.
  const copier = await ort.InferenceSession.create(copyModel(values, "copy:"), onDevice(provider))
  const zeroer = await filling(zerosModel(values.map((v) => ({ ...v, name: `zero:${v.name}` }))))
  const restorer = await filling(copyModel(values, "into:"))
  const reader = await filling(copyModel(values, "host:"))
  let forward = true
  const current = () => sets[forward ? 0 : 1]!
  /** Fill the current set with `session`'s outputs, named `prefix + input`. */
  const fillCurrent = async (
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    prefix: string,
  ) => {
    const into = Object.fromEntries([...current()].map(([name, t]) => [`${prefix}${name}`, t]))
    disposeWrappers(await session.run(feeds, into), into)
  }
  return {
    next: () => {
      const written = sets[forward ? 1 : 0]!
      return {
        feeds: Object.fromEntries(current()),
        fetches: Object.fromEntries(bindings.map((b) => [b.output, written.get(b.input)!])),
        graph: forward ? "1" : "2",
      }
    },
    advance: () => {
      forward = !forward
    },
    zero: () => fillCurrent(zeroer, {}, "zero:"),
    snapshot: async () => {
      const copied = await copier.run(Object.fromEntries(current()))
      return new Map(bindings.map((b) => [b.input, copied[`copy:${b.input}`]!]))
    },
    restore: (snapshot) => fillCurrent(restorer, Object.fromEntries(snapshot), "into:"),
    read: async () => {
      const copied = await reader.run(Object.fromEntries(current()))
      return Object.fromEntries(bindings.map((b) => [b.input, plain(copied[`host:${b.input}`]!)]))
    },
    release: async () => {
      for (const set of sets) for (const t of set.values()) t.dispose()
      for (const s of [copier, zeroer, restorer, reader, maker]) await s.release()
    },
  }
}
