/**
 * The thread that owns every onnxruntime session. `InferenceSession.run` in onnxruntime-node is
 * synchronous (it blocks the calling thread), so it must never run on the main thread.
 */
import { parentPort } from "node:worker_threads"
import * as ort from "onnxruntime-node"
import {
  disposeWrappers,
  download,
  type IoBuffers,
  makeIoBuffers,
  makePingPongState,
  type PingPongState,
  releaseIoBuffers,
  upload,
  zerosOnDevice,
} from "./captureBuffers.ts"
import { runConfig, withWebGpuProviderOptions } from "./ortOptionsShim.ts"
import type {
  Created,
  Feeds,
  OrtTensor,
  Request,
  ResidentState,
  Response,
  SessionSpec,
  StateAction,
  StateBinding,
  TensorType,
} from "./ortProtocol.ts"
import { makeSharedIo, noSharedIo, type SharedIo } from "./sharedValues.ts"

/** A session and the recurrent values it keeps between runs (see `StateBinding`). */
interface Hosted {
  readonly session: ort.InferenceSession
  readonly bindings: ReadonlyArray<StateBinding>
  state: Map<string, ort.Tensor>
  readonly snapshots: Map<string, Map<string, ort.Tensor>>
  /** Each binding's input and output bound to the same buffer of a resident pool. */
  readonly resident?: ResidentState
  /** The pools it holds (of `resident` and of `shared`). */
  readonly pools: ReadonlyArray<string>
  /** The pool buffers of its shared values (`SessionSpec.shared`). */
  readonly shared: SharedIo
  /** The outputs a run fetches when it names none: all but the state, resident and shared ones. */
  readonly outputNames: ReadonlyArray<string>
  readonly profiling: boolean
  /** Graph capture is on (`WebGpuOptions.graphCapture`); its input and output buffers come with the first captured run. */
  readonly graphCapture: boolean
  io?: IoBuffers
  /** With graph capture, the state lives here instead of in `state` (which stays empty). */
  readonly pingPong?: PingPongState
  /** The provider as created (settings included), for the capture buffers' helper sessions. */
  readonly providerEntry: string | ort.InferenceSession.ExecutionProviderConfig
}

/** A pool buffer's element type and shape. */
interface BufferSpec {
  readonly type: TensorType
  readonly dims: ReadonlyArray<number>
}

/** Resident device buffers by name (a binding's input name, a shared value's buffer), and how many sessions use them. */
interface Pool {
  readonly tensors: Map<string, ort.Tensor>
  readonly specs: Map<string, BufferSpec>
  /**
   * The sessions that made the buffers: disposing a GPU output after its session was released
   * crashes the process (SIGSEGV, onnxruntime-node 1.30 WebGPU), so they live as long as the pool.
   */
  readonly makers: ort.InferenceSession[]
  users: number
}

/** The provider as onnxruntime-node takes it: a name, or an object with the WebGPU settings. */
const providerEntry = (
  provider: string,
  spec: SessionSpec,
): string | ort.InferenceSession.ExecutionProviderConfig =>
  provider === "webgpu" && spec.webGpu?.validationMode
    ? ({
        name: "webgpu",
        validationMode: spec.webGpu.validationMode,
      } as ort.InferenceSession.ExecutionProviderConfig)
    : provider

const sessions = new Map<number, Hosted>()
const pools = new Map<string, Pool>()
let nextSession = 1

/** A pool buffer a session asks for. */
interface WantedBuffer extends BufferSpec {
  readonly buffer: string
}

/** Pool `name` with the buffers in `wanted` (zeros made on the provider's device at first use). */
const acquirePool = async (
  name: string,
  wanted: ReadonlyArray<WantedBuffer>,
  provider: string,
  spec: SessionSpec,
): Promise<void> => {
  const pool: Pool = pools.get(name) ?? { tensors: new Map(), specs: new Map(), makers: [], users: 0 }
  const missing = new Map<string, BufferSpec>()
  for (const b of wanted) {
    const known = pool.specs.get(b.buffer) ?? missing.get(b.buffer)
    if (!known) missing.set(b.buffer, { type: b.type, dims: b.dims })
    else if (known.type !== b.type || known.dims.join() !== b.dims.join())
      throw new Error(
        `resident pool "${name}" holds ${b.buffer} as ${known.type}[${known.dims}], not ${b.type}[${b.dims}]`,
      )
  }
  if (missing.size > 0) {
    if (provider === "cpu") {
      for (const [buffer, b] of missing)
        pool.tensors.set(buffer, new ort.Tensor(b.type, zeroData(b) as never, b.dims))
    } else {
      const values = [...missing].map(([buffer, b]) => ({ name: buffer, type: b.type, dims: b.dims }))
      const { maker, sets } = await zerosOnDevice([values], providerEntry(provider, spec))
      pool.makers.push(maker)
      for (const [buffer, t] of sets[0]!) pool.tensors.set(buffer, t)
    }
    for (const [buffer, b] of missing) pool.specs.set(buffer, b)
  }
  pool.users++
  pools.set(name, pool)
}

/** The pools of `spec`'s resident bindings and shared values, acquired in turn (released again on failure). */
const acquirePools = async (spec: SessionSpec, provider: string): Promise<ReadonlyArray<string>> => {
  const wanted = new Map<string, WantedBuffer[]>()
  const add = (pool: string, b: WantedBuffer) => wanted.set(pool, [...(wanted.get(pool) ?? []), b])
  for (const b of spec.resident?.bindings ?? []) add(spec.resident!.pool, { ...b, buffer: b.input })
  for (const v of spec.shared ?? []) add(v.pool, v)
  const acquired: string[] = []
  try {
    for (const [name, buffers] of wanted) {
      await acquirePool(name, buffers, provider, spec)
      acquired.push(name)
    }
  } catch (error) {
    for (const name of acquired) await releasePool(name)
    throw error
  }
  return acquired
}

const releasePool = async (name: string) => {
  const pool = pools.get(name)
  if (!pool || --pool.users > 0) return
  pools.delete(name)
  for (const t of pool.tensors.values()) if (t.location === "gpu-buffer") t.dispose()
  for (const maker of pool.makers) await maker.release()
}

const zeroData = (binding: BufferSpec) => {
  const n = binding.dims.reduce((a, b) => a * b, 1)
  switch (binding.type) {
    case "float32":
      return new Float32Array(n)
    case "float16":
      return new Uint16Array(n)
    case "int64":
      return new BigInt64Array(n)
    case "int32":
      return new Int32Array(n)
    case "int8":
      return new Int8Array(n)
    default:
      return new Uint8Array(n)
  }
}

const zeroState = (bindings: ReadonlyArray<StateBinding>) =>
  new Map(bindings.map((b) => [b.input, new ort.Tensor(b.type, zeroData(b) as never, b.dims)] as const))

/** Free GPU buffers of values no longer held by the live state or any snapshot. */
const release = (hosted: Hosted, dropped: Iterable<ort.Tensor>) => {
  const held = new Set<ort.Tensor>(hosted.state.values())
  for (const snapshot of hosted.snapshots.values()) for (const t of snapshot.values()) held.add(t)
  for (const t of dropped) if (!held.has(t) && t.location === "gpu-buffer") t.dispose()
}

const create = async (
  spec: SessionSpec & { executionProviders: ReadonlyArray<string> },
): Promise<Created> => {
  const fallbacks: Array<{ provider: string; reason: string }> = []
  const bindings = spec.state ?? []
  for (const provider of spec.executionProviders) {
    const graphCapture = provider === "webgpu" && spec.webGpu?.graphCapture === true
    // A captured session's state outputs are preallocated buffers, which a preferred location would void.
    const onDevice = spec.stateOnDevice === true && provider !== "cpu" && bindings.length > 0 && !graphCapture
    const entry = providerEntry(provider, spec)
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [entry],
      graphOptimizationLevel: spec.graphOptimizationLevel ?? "all",
      ...(spec.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: spec.profileFilePrefix } : {}),
      ...(spec.intraOpThreads ? { intraOpNumThreads: spec.intraOpThreads, interOpNumThreads: 1 } : {}),
      ...(onDevice
        ? {
            preferredOutputLocation: Object.fromEntries(
              bindings.map((b) => [b.output, "gpu-buffer" as const]),
            ),
          }
        : {}),
      extra: {
        session: {
          ...(spec.disablePrepacking ? { disable_prepacking: "1" } : {}),
          ...(spec.intraOpSpinning === undefined
            ? {}
            : { "intra_op.allow_spinning": spec.intraOpSpinning ? "1" : "0" }),
          ...(spec.disableCpuFallback && provider !== "cpu" ? { disable_cpu_ep_fallback: "1" } : {}),
        },
      },
    }
    try {
      const open = () =>
        typeof spec.model === "string"
          ? ort.InferenceSession.create(spec.model, options)
          : ort.InferenceSession.create(spec.model, options)
      const session = graphCapture
        ? await withWebGpuProviderOptions([["enableGraphCapture", "1"]], open)
        : await open()
      const id = nextSession++
      const pingPong =
        graphCapture && bindings.length > 0
          ? await makePingPongState(bindings, entry).catch(async (error: unknown) => {
              await session.release()
              throw error
            })
          : undefined
      const resident = spec.resident
      const undo = async (error: unknown) => {
        await pingPong?.release()
        await session.release()
        throw error
      }
      const acquired = await acquirePools(spec, provider).catch(undo)
      const shared = spec.shared
        ? await makeSharedIo(
            session,
            spec.shared,
            (v) => pools.get(v.pool)!.tensors.get(v.buffer)!,
            entry,
          ).catch(async (error: unknown) => {
            for (const name of acquired) await releasePool(name)
            return undo(error)
          })
        : noSharedIo
      const stateNames = new Set([
        ...bindings.flatMap((b) => [b.input, b.output]),
        ...(resident?.bindings.flatMap((b) => [b.input, b.output]) ?? []),
        ...(spec.shared?.map((v) => v.name) ?? []),
      ])
      const outputNames = session.outputNames.filter((n) => !stateNames.has(n))
      sessions.set(id, {
        session,
        bindings,
        state: pingPong ? new Map() : zeroState(bindings),
        ...(pingPong ? { pingPong } : {}),
        snapshots: new Map(),
        ...(resident ? { resident } : {}),
        pools: acquired,
        shared,
        outputNames,
        profiling: spec.profileFilePrefix !== undefined,
        graphCapture,
        providerEntry: entry,
      })
      return {
        session: id,
        provider: provider as Created["provider"],
        inputNames: session.inputNames.filter((n) => !stateNames.has(n)),
        outputNames,
        fallbacks: fallbacks as Created["fallbacks"],
      }
    } catch (error) {
      fallbacks.push({ provider, reason: (error as Error).message })
    }
  }
  throw new Error(
    fallbacks.map((f) => `${f.provider}: ${f.reason}`).join("; ") || "no execution provider given",
  )
}

const hostedSession = (session: number) => {
  const hosted = sessions.get(session)
  if (!hosted) throw new Error(`session ${session} does not exist (released?)`)
  return hosted
}

const toPlain = async (t: ort.Tensor): Promise<OrtTensor> => {
  const data = (t.location === "gpu-buffer" ? await t.getData() : t.data) as OrtTensor["data"]
  return { type: t.type as OrtTensor["type"], dims: [...t.dims], data }
}

const hostTensor = (t: OrtTensor) => new ort.Tensor(t.type, t.data as never, t.dims)

/** Each resident binding's buffer as the input, and again as the preallocated output (written in place). */
const residentIo = (hosted: Hosted) => {
  const feeds: Record<string, ort.Tensor> = {}
  const fetches: Record<string, ort.Tensor> = {}
  if (hosted.resident) {
    const pool = pools.get(hosted.resident.pool)!
    for (const b of hosted.resident.bindings) {
      feeds[b.input] = pool.tensors.get(b.input)!
      fetches[b.output] = pool.tensors.get(b.input)!
    }
  }
  for (const [name, t] of hosted.shared.inputs) feeds[name] = t
  for (const [name, t] of hosted.shared.outputs) fetches[name] = t
  return { feeds, fetches }
}

/** The fetches of a run's own outputs, and those of shared outputs (copied out of their buffers after it). */
const splitFetches = (hosted: Hosted, fetches: ReadonlyArray<string> | undefined) => {
  const all = fetches ?? hosted.outputNames
  return {
    own: all.filter((n) => !hosted.shared.outputs.has(n)),
    shared: all.filter((n) => hosted.shared.outputs.has(n)),
  }
}

const run = async (session: number, hostFeeds: Feeds, fetches?: ReadonlyArray<string>, live?: boolean) => {
  const hosted = hostedSession(session)
  const feeds = await hosted.shared.write(hostFeeds)
  const wanted = splitFetches(hosted, fetches)
  const { out, transfer } = hosted.graphCapture
    ? await (live ? runLive(hosted, feeds, wanted.own) : runCaptured(hosted, feeds, wanted.own))
    : await runUncaptured(hosted, feeds, wanted.own)
  if (wanted.shared.length === 0) return { out, transfer }
  const shared = await hosted.shared.read(wanted.shared)
  return { out: { ...out, ...shared }, transfer: [...transfer, ...transferList(shared)] }
}

const runUncaptured = async (hosted: Hosted, feeds: Feeds, fetches: ReadonlyArray<string>) => {
  const ortFeeds: Record<string, ort.Tensor> = {}
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = hostTensor(t)
  const resident = residentIo(hosted)
  Object.assign(ortFeeds, resident.feeds)
  for (const [name, t] of hosted.state) ortFeeds[name] = t
  // A session with a preferred output location ignores preallocated outputs (onnxruntime-node 1.30),
  // so shared outputs come back as results, then are copied into their buffers.
  const sharedOutputs = [...hosted.shared.outputs.keys()]
  for (const name of sharedOutputs) delete resident.fetches[name]
  const wanted = [...new Set([...fetches, ...hosted.bindings.map((b) => b.output), ...sharedOutputs])]
  const results: Record<string, ort.Tensor> =
    Object.keys(resident.fetches).length > 0
      ? {
          ...(await hosted.session.run(ortFeeds, {
            ...Object.fromEntries(wanted.map((n) => [n, null] as const)),
            ...resident.fetches,
          })),
        }
      : await hosted.session.run(ortFeeds, wanted)
  disposeWrappers(results, resident.fetches)
  const previous = [...hosted.state.values()]
  const stateOutputs = new Set<string>()
  for (const b of hosted.bindings) {
    hosted.state.set(b.input, results[b.output]!)
    stateOutputs.add(b.output)
  }
  release(hosted, previous)
  for (const name of sharedOutputs) {
    await hosted.shared.store(name, results[name]!)
    results[name]!.dispose()
    delete results[name]
  }
  const out: Record<string, OrtTensor> = {}
  for (const [name, t] of Object.entries(results)) {
    if (stateOutputs.has(name)) continue
    out[name] = await toPlain(t)
    t.dispose()
  }
  return { out, transfer: transferList(out) }
}

const transferList = (out: Record<string, OrtTensor>) =>
  Object.values(out).map((t) => t.data.buffer as ArrayBuffer)

/** The fixed buffers a graph-capture session's run reads and writes besides its inputs and outputs. */
const boundIo = (hosted: Hosted) => {
  const resident = residentIo(hosted)
  const state = hosted.pingPong?.next()
  return {
    feeds: { ...resident.feeds, ...state?.feeds },
    fetches: { ...resident.fetches, ...state?.fetches },
    graph: state?.graph ?? "0",
  }
}

/** A graph-capture session's run outside the captured graphs: host feeds, any shapes. */
const runLive = async (hosted: Hosted, feeds: Feeds, wanted: ReadonlyArray<string>) => {
  const bound = boundIo(hosted)
  const ortFeeds: Record<string, ort.Tensor> = { ...bound.feeds }
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = hostTensor(t)
  const results = await hosted.session.run(
    ortFeeds,
    { ...Object.fromEntries(wanted.map((n) => [n, null] as const)), ...bound.fetches },
    runConfig({ gpu_graph_id: "-1" }),
  )
  disposeWrappers(results, bound.fetches)
  hosted.pingPong?.advance()
  const out: Record<string, OrtTensor> = {}
  for (const name of wanted) {
    out[name] = await toPlain(results[name]!)
    results[name]!.dispose()
  }
  return { out, transfer: transferList(out) }
}

/** A graph-capture session's run: feeds into the fixed inputs, the captured graph, the fixed outputs out. */
const runCaptured = async (hosted: Hosted, feeds: Feeds, fetches: ReadonlyArray<string>) => {
  const bound = boundIo(hosted)
  hosted.io ??= await makeIoBuffers(
    hosted.session,
    feeds,
    new Set(Object.keys(bound.fetches)),
    hosted.providerEntry,
  )
  const io = hosted.io
  await upload(io, feeds)
  const fixedOutputs = { ...Object.fromEntries(io.outputs), ...bound.fetches }
  disposeWrappers(
    await hosted.session.run(
      { ...Object.fromEntries(io.inputs), ...bound.feeds },
      fixedOutputs,
      runConfig({ gpu_graph_id: bound.graph }),
    ),
    fixedOutputs,
  )
  hosted.pingPong?.advance()
  const out = await download(io, fetches)
  return { out, transfer: transferList(out) }
}

/** State actions of a graph-capture session: copies into and out of its fixed buffers. */
const updatePingPongState = async (hosted: Hosted, state: PingPongState, request: StateAction) => {
  const disposeSnapshot = (key: string) => {
    for (const t of hosted.snapshots.get(key)?.values() ?? []) t.dispose()
    hosted.snapshots.delete(key)
  }
  switch (request.action) {
    case "reset":
      return state.zero()
    case "snapshot": {
      const copy = await state.snapshot()
      disposeSnapshot(request.key)
      hosted.snapshots.set(request.key, copy)
      return null
    }
    case "restore": {
      const snapshot = hosted.snapshots.get(request.key)
      if (!snapshot) throw new Error(`no state snapshot named "${request.key}"`)
      return state.restore(snapshot)
    }
    case "drop":
      return disposeSnapshot(request.key)
    case "read":
      return state.read()
  }
}

const updateState = async (session: number, request: StateAction): Promise<unknown> => {
  const hosted = hostedSession(session)
  if (hosted.pingPong) return (await updatePingPongState(hosted, hosted.pingPong, request)) ?? null
  const previous = [...hosted.state.values()]
  switch (request.action) {
    case "reset":
      hosted.state = zeroState(hosted.bindings)
      release(hosted, previous)
      return null
    case "snapshot": {
      const replaced = hosted.snapshots.get(request.key)
      hosted.snapshots.set(request.key, new Map(hosted.state))
      if (replaced) release(hosted, replaced.values())
      return null
    }
    case "restore": {
      const snapshot = hosted.snapshots.get(request.key)
      if (!snapshot) throw new Error(`no state snapshot named "${request.key}"`)
      hosted.state = new Map(snapshot)
      release(hosted, previous)
      return null
    }
    case "drop": {
      const dropped = hosted.snapshots.get(request.key)
      hosted.snapshots.delete(request.key)
      if (dropped) release(hosted, dropped.values())
      return null
    }
    case "read": {
      const out: Record<string, OrtTensor> = {}
      for (const [name, t] of hosted.state) {
        const plain = await toPlain(t)
        out[name] = { ...plain, data: plain.data.slice() }
      }
      return out
    }
  }
}

const releaseSession = async (session: number) => {
  const hosted = sessions.get(session)
  if (!hosted) return
  sessions.delete(session)
  if (hosted.pingPong)
    for (const snapshot of hosted.snapshots.values()) for (const t of snapshot.values()) t.dispose()
  hosted.snapshots.clear()
  const values = [...hosted.state.values()]
  hosted.state = new Map()
  release(hosted, values)
  if (hosted.profiling) hosted.session.endProfiling()
  await hosted.session.release()
  if (hosted.io) await releaseIoBuffers(hosted.io)
  await hosted.pingPong?.release()
  await hosted.shared.release()
  for (const name of hosted.pools) await releasePool(name)
}

const handle = async (request: Request): Promise<void> => {
  try {
    if (request.kind === "create") {
      port.postMessage({ id: request.id, ok: true, value: await create(request.spec) } satisfies Response)
    } else if (request.kind === "run") {
      const { out, transfer } = await run(request.session, request.feeds, request.fetches, request.live)
      port.postMessage({ id: request.id, ok: true, value: out } satisfies Response, [...new Set(transfer)])
    } else if (request.kind === "state") {
      port.postMessage({
        id: request.id,
        ok: true,
        value: await updateState(request.session, request.state),
      } satisfies Response)
    } else if (request.kind === "shutdown") {
      for (const session of [...sessions.keys()]) await releaseSession(session)
      process.exit(0)
    } else {
      await releaseSession(request.session)
      port.postMessage({ id: request.id, ok: true, value: null } satisfies Response)
    }
  } catch (error) {
    port.postMessage({
      id: request.id,
      ok: false,
      reason: (error as Error).message ?? String(error),
    } satisfies Response)
  }
}

// One request at a time, in arrival order. onnxruntime-node's run() defers the native call with
// setImmediate, so without this queue a release arriving behind a queued run would dispose the
// session before that run executes.
const port = parentPort!
let queue: Promise<void> = Promise.resolve()
port.on("message", (request: Request) => {
  queue = queue.then(() => handle(request))
})
