import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Context, Deferred, Effect, Layer, type Scope, Semaphore } from "effect"
import { OrtSessionError } from "./errors.ts"
import type {
  Created,
  ExecutionProvider,
  Feeds,
  OrtTensor,
  Request,
  Response,
  RunOptions,
  SessionSpec,
  StateAction,
  WebGpuOptions,
} from "./ortProtocol.ts"
import { oneLineReason, webGpuUnavailableOnce } from "./webGpuProbe.ts"

export type {
  Created,
  ExecutionProvider,
  Feeds,
  OrtTensor,
  RunOptions,
  SessionSpec,
  SharedValue,
  StateBinding,
  TensorType,
  WebGpuOptions,
} from "./ortProtocol.ts"

/** A live onnxruntime session in the worker thread. */
export interface Session {
  readonly provider: ExecutionProvider
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  run(
    feeds: Feeds,
    fetches?: ReadonlyArray<string>,
    options?: RunOptions,
  ): Effect.Effect<Record<string, OrtTensor>, OrtSessionError>
  /** Zero the recurrent state (`SessionSpec.state`). */
  readonly resetState: Effect.Effect<void, OrtSessionError>
  /** Remember the current state under `key`; cheap: values are shared, never copied. */
  snapshotState(key: string): Effect.Effect<void, OrtSessionError>
  /** Continue from a state remembered by `snapshotState`. */
  restoreState(key: string): Effect.Effect<void, OrtSessionError>
  /** Forget a snapshot, freeing the values only it held (none if the key is unknown). */
  dropSnapshot(key: string): Effect.Effect<void, OrtSessionError>
  /** A copy of the current state values, by input name (for tests and debugging). */
  readonly readState: Effect.Effect<Record<string, OrtTensor>, OrtSessionError>
}

export interface OrtSessionConfig {
  /**
   * Tried in order per session, with one logged warning line for each that is unavailable (WebGPU is
   * probed once first where a provider after it remains: see `usableProviders`).
   */
  readonly executionProviders: ReadonlyArray<ExecutionProvider>
  readonly intraOpThreads?: number
  /** Idle intra-op threads spin for work (default true; see `SessionSpec.intraOpSpinning`). */
  readonly intraOpSpinning?: boolean
  /** WebGPU provider settings of every session (`SessionSpec.webGpu` overrides them). */
  readonly webGpu?: WebGpuOptions
}

export interface OrtSessionShape {
  readonly config: OrtSessionConfig
  /**
   * Create a session; it is released when the scope closes. If the worker thread has died since
   * the last `open`, a fresh one is started first (sessions of the dead worker stay failed).
   */
  open(spec: SessionSpec): Effect.Effect<Session, OrtSessionError, Scope.Scope>
}

// Same folder and extension as this module: `src/*.ts` under test, `dist/*.js` when built.
const workerPath = () => {
  const here = fileURLToPath(import.meta.url)
  return path.join(path.dirname(here), `ortWorker${path.extname(here)}`)
}

/**
 * The main thread's Node options minus those a worker rejects: `node --input-type=module -e ...`
 * would otherwise kill the worker at start ("--input-type can only be used with string input").
 */
const workerExecArgv = () => {
  const args: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith("--input-type")) continue
    if (a === "-e" || a === "--eval" || a === "-p" || a === "--print") {
      i++ // and the script after it
      continue
    }
    args.push(a)
  }
  return args
}

/** Compact a view so structured cloning copies only its bytes, not its whole backing buffer. */
const compact = (t: OrtTensor): OrtTensor =>
  t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength
    ? t
    : { ...t, data: t.data.slice() }

type Operation = OrtSessionError["operation"]

/** A request before the client numbers it. */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never

/** One worker thread and the requests waiting on it. */
interface WorkerClient {
  call<A>(
    request: RequestBody,
    operation: Operation,
    transfer?: ReadonlyArray<ArrayBuffer>,
  ): Effect.Effect<A, OrtSessionError>
  /** Why the worker is gone, once it is. */
  readonly deadReason: () => OrtSessionError | undefined
  readonly terminate: () => Promise<void>
}

const startWorkerClient = (spawn: () => Worker): WorkerClient => {
  const worker = spawn()
  const pending = new Map<number, Deferred.Deferred<unknown, OrtSessionError>>()
  let nextId = 1
  let dead: OrtSessionError | undefined
  worker.on("message", (response: Response) => {
    const deferred = pending.get(response.id)
    if (!deferred) return
    pending.delete(response.id)
    Deferred.doneUnsafe(
      deferred,
      response.ok
        ? Effect.succeed(response.value)
        : Effect.fail(new OrtSessionError({ operation: "run", reason: response.reason })),
    )
    if (pending.size === 0) worker.unref()
  })
  // "error" (an uncaught exception, an out-of-memory kill) is followed by "exit": keep the first reason.
  const die = (reason: string) => {
    dead ??= new OrtSessionError({
      operation: "worker",
      reason: `${reason}; its sessions are gone (open them again)`,
    })
    for (const deferred of pending.values()) Deferred.doneUnsafe(deferred, Effect.fail(dead))
    pending.clear()
  }
  worker.on("error", (error) => die(`worker thread failed: ${error.message}`))
  worker.on("exit", (code) => die(`worker thread exited with code ${code}`))
  worker.unref()

  const call = <A>(request: RequestBody, operation: Operation, transfer: ReadonlyArray<ArrayBuffer> = []) =>
    Effect.suspend(() => {
      if (dead) return Effect.fail(dead)
      const id = nextId++
      const deferred = Deferred.makeUnsafe<unknown, OrtSessionError>()
      try {
        worker.postMessage({ ...request, id } as Request, [...transfer])
      } catch (cause) {
        return Effect.fail(
          new OrtSessionError({
            operation,
            reason: `cannot send the request to the worker: ${(cause as Error).message}`,
          }),
        )
      }
      pending.set(id, deferred)
      worker.ref()
      return Deferred.await(deferred).pipe(
        Effect.mapError((e) =>
          e.operation === "run" ? new OrtSessionError({ operation, reason: e.reason }) : e,
        ),
      ) as Effect.Effect<A, OrtSessionError>
    })
  return {
    call,
    deadReason: () => dead,
    terminate: async () => {
      if (dead) return
      // Ending the thread while onnxruntime is inside a native call aborts the whole process
      // ("terminate called after throwing Napi::Error"), so the worker is asked to stop after the
      // requests already queued (an interrupted frame's run, say); a hard stop only if it hangs.
      // While it shuts down nothing else may hold the main event loop open: a timer holds it.
      const hold = setInterval(() => {}, 60_000)
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()))
      try {
        worker.ref()
        worker.postMessage({ id: nextId++, kind: "shutdown" } satisfies Request)
        const hung = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), SHUTDOWN_GRACE_MS).unref()),
        ])
        if (hung) await worker.terminate()
      } finally {
        clearInterval(hold)
      }
    },
  }
}

/** How long a worker may take to finish its queued requests at shutdown (a session still loading a large model, say). */
const SHUTDOWN_GRACE_MS = 120_000

/**
 * The requested providers this machine can run: WebGPU is probed first (in a child process, once per
 * process) where a provider after it remains, so that a machine without a WebGPU adapter gets one
 * warning line and CPU sessions instead of the native loader's messages and a failure per session.
 * `config.executionProviders` of the layer is then what its sessions are opened with.
 */
const usableProviders = (requested: OrtSessionConfig) =>
  Effect.gen(function* () {
    const providers = requested.executionProviders
    const rest = providers.filter((p) => p !== "webgpu")
    if (!providers.includes("webgpu") || rest.length === 0) return requested
    const unavailable = yield* Effect.promise(webGpuUnavailableOnce)
    if (unavailable === undefined) return requested
    yield* Effect.logWarning(`onnxruntime: webgpu requested, using ${rest[0]}: ${unavailable}`)
    return { ...requested, executionProviders: rest }
  })

/**
 * onnxruntime has one WebGPU device per process, shared by the sessions of every worker thread, and
 * Dawn rejects work encoded from two threads at once ("CommandEncoder is already finished": one web
 * session's codec opening or prompting while another's LM step runs). So every call that reaches a
 * WebGPU session — create, run, state, release — takes this process-wide turn; calls of one worker
 * are sequential anyway, CPU sessions never wait.
 */
const webGpuTurn = Semaphore.makeUnsafe(1)
const onWebGpu =
  (webGpu: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    // Uninterruptible inside the turn: an interrupted caller must not hand the device on while its
    // request still runs in the worker.
    webGpu ? webGpuTurn.withPermit(Effect.uninterruptible(effect)) : effect

// Takes the service tag as an argument: `OrtSession.layerCpu` is built while the class is being defined.
const buildLayer = (
  tag: typeof OrtSession,
  requested: OrtSessionConfig,
  spawn: () => Worker,
): Layer.Layer<OrtSession> =>
  Layer.effect(
    tag,
    Effect.gen(function* () {
      const config = yield* usableProviders(requested)
      let current: WorkerClient | undefined
      const client = () => {
        if (!current || current.deadReason()) current = startWorkerClient(spawn)
        return current
      }
      // Sessions opened in scopes that outlive the layer find the worker gone: their release is a no-op.
      yield* Effect.addFinalizer(() => Effect.promise(() => current?.terminate() ?? Promise.resolve()))
      // One line per distinct fallback, not one per session.
      const warned = new Set<string>()
      const intraOpThreads = (spec: SessionSpec) => spec.intraOpThreads ?? config.intraOpThreads
      const create = (spec: SessionSpec) =>
        Effect.gen(function* () {
          const worker = client()
          const threads = intraOpThreads(spec)
          const spinning = spec.intraOpSpinning ?? config.intraOpSpinning
          const executionProviders = spec.executionProviders ?? config.executionProviders
          const created = yield* worker
            .call<Created>(
              {
                kind: "create",
                spec: {
                  ...spec,
                  executionProviders,
                  ...(threads ? { intraOpThreads: threads } : {}),
                  ...(spinning === undefined ? {} : { intraOpSpinning: spinning }),
                  ...((spec.webGpu ?? config.webGpu) ? { webGpu: { ...config.webGpu, ...spec.webGpu } } : {}),
                },
              },
              "create",
            )
            .pipe(onWebGpu(executionProviders.includes("webgpu")))
          for (const fallback of created.fallbacks) {
            const warning = `onnxruntime: ${fallback.provider} unavailable for a session, using ${created.provider}: ${oneLineReason(fallback.reason)}`
            if (warned.has(warning)) continue
            warned.add(warning)
            yield* Effect.logWarning(warning)
          }
          return { worker, created }
        })
      const open = (spec: SessionSpec) =>
        Effect.map(
          Effect.acquireRelease(create(spec), ({ worker, created }) =>
            worker
              .call({ kind: "release", session: created.session }, "release")
              .pipe(onWebGpu(created.provider === "webgpu"), Effect.ignore),
          ),
          ({ worker, created }): Session => {
            const turn = onWebGpu(created.provider === "webgpu")
            const state = <A = void>(action: StateAction) =>
              worker.call<A>({ kind: "state", session: created.session, state: action }, "run").pipe(turn)
            return {
              provider: created.provider,
              inputNames: created.inputNames,
              outputNames: created.outputNames,
              run: (feeds, fetches, options) => {
                const compacted: Record<string, OrtTensor> = {}
                for (const [name, tensor] of Object.entries(feeds)) compacted[name] = compact(tensor)
                return worker
                  .call<Record<string, OrtTensor>>(
                    {
                      kind: "run",
                      session: created.session,
                      feeds: compacted,
                      ...(fetches ? { fetches } : {}),
                      ...(options?.live ? { live: true } : {}),
                    },
                    "run",
                    options?.transferFeeds
                      ? [...new Set(Object.values(compacted).map((t) => t.data.buffer as ArrayBuffer))]
                      : [],
                  )
                  .pipe(turn)
              },
              resetState: state({ action: "reset" }),
              snapshotState: (key) => state({ action: "snapshot", key }),
              restoreState: (key) => state({ action: "restore", key }),
              dropSnapshot: (key) => state({ action: "drop", key }),
              readState: state<Record<string, OrtTensor>>({ action: "read" }),
            }
          },
        )
      return tag.of({ config, open })
    }),
  )

/**
 * Hosts onnxruntime sessions in one worker thread (sessions run one request at a time, as a
 * frame's stages do), so the event loop stays free for audio I/O while a model runs.
 */
export class OrtSession extends Context.Service<OrtSession, OrtSessionShape>()(
  "@personaplex/runtime/OrtSession",
) {
  static layer(config: OrtSessionConfig): Layer.Layer<OrtSession> {
    return buildLayer(OrtSession, config, () => new Worker(workerPath(), { execArgv: workerExecArgv() }))
  }

  /** CPU only, two intra-op threads: what tests and CI use. */
  static readonly layerCpu: Layer.Layer<OrtSession> = OrtSession.layer({
    executionProviders: ["cpu"],
    intraOpThreads: 2,
  })
}

/**
 * The `OrtSession` service over worker threads made by `spawn` (not exported from the package:
 * tests use it to get hold of the thread, to kill it, say).
 */
export const layerWithWorker = (config: OrtSessionConfig, spawn: () => Worker): Layer.Layer<OrtSession> =>
  buildLayer(OrtSession, config, spawn)

/** The path of the worker script `OrtSession.layer` starts, and the Node options it passes. */
export const ortWorkerPath = workerPath
export const ortWorkerExecArgv = workerExecArgv
