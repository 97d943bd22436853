import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Context, Deferred, Effect, Layer, type Scope } from "effect"
import { OrtSessionError } from "./errors.ts"
import type {
  Created,
  ExecutionProvider,
  Feeds,
  OrtTensor,
  Request,
  Response,
  SessionSpec,
} from "./ortProtocol.ts"

export type { Created, ExecutionProvider, Feeds, OrtTensor, SessionSpec, TensorType } from "./ortProtocol.ts"

/** A live onnxruntime session in the worker thread. */
export interface Session {
  readonly provider: ExecutionProvider
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  run(
    feeds: Feeds,
    fetches?: ReadonlyArray<string>,
  ): Effect.Effect<Record<string, OrtTensor>, OrtSessionError>
}

export interface OrtSessionConfig {
  /** Tried in order per session, with a logged warning for each one that is unavailable. */
  readonly executionProviders: ReadonlyArray<ExecutionProvider>
  readonly intraOpThreads?: number
}

export interface OrtSessionShape {
  readonly config: OrtSessionConfig
  /** Create a session; it is released when the scope closes. */
  open(spec: SessionSpec): Effect.Effect<Session, OrtSessionError, Scope.Scope>
}

// Same folder and extension as this module: `src/*.ts` under test, `dist/*.js` when built.
const workerUrl = () => {
  const here = fileURLToPath(import.meta.url)
  return path.join(path.dirname(here), `ortWorker${path.extname(here)}`)
}

/** Compact a view so structured cloning copies only its bytes, not its whole backing buffer. */
const compact = (t: OrtTensor): OrtTensor =>
  t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength
    ? t
    : { ...t, data: t.data.slice() }

const makeWorkerClient = Effect.fnUntraced(function* () {
  const worker = yield* Effect.acquireRelease(
    Effect.sync(() => new Worker(workerUrl())),
    (w) => Effect.promise(() => w.terminate()),
  )
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
  })
  const failAll = (reason: string) => {
    dead = new OrtSessionError({ operation: "worker", reason })
    for (const deferred of pending.values()) Deferred.doneUnsafe(deferred, Effect.fail(dead))
    pending.clear()
  }
  worker.on("error", (error) => failAll(error.message))
  worker.on("exit", (code) => failAll(`worker exited with code ${code}`))
  worker.unref()

  const call = <A>(request: Omit<Request, "id">, operation: OrtSessionError["operation"]) =>
    Effect.suspend(() => {
      if (dead) return Effect.fail(dead)
      const id = nextId++
      const deferred = Deferred.makeUnsafe<unknown, OrtSessionError>()
      pending.set(id, deferred)
      worker.ref()
      worker.postMessage({ ...request, id } as Request)
      return Deferred.await(deferred).pipe(
        Effect.mapError((e) =>
          e.operation === "run" ? new OrtSessionError({ operation, reason: e.reason }) : e,
        ),
        Effect.ensuring(Effect.sync(() => pending.size === 0 && worker.unref())),
      ) as Effect.Effect<A, OrtSessionError>
    })
  return call
})

/**
 * Hosts onnxruntime sessions in one worker thread (sessions run one at a time, as a
 * frame's stages do), so the event loop stays free for audio I/O while a model runs.
 */
export class OrtSession extends Context.Service<OrtSession, OrtSessionShape>()(
  "@personaplex/runtime/OrtSession",
) {
  static layer(config: OrtSessionConfig): Layer.Layer<OrtSession> {
    return Layer.effect(
      OrtSession,
      Effect.gen(function* () {
        const call = yield* makeWorkerClient()
        const open = (spec: SessionSpec) =>
          Effect.acquireRelease(
            Effect.gen(function* () {
              const providers = spec.executionProviders ?? config.executionProviders
              const created = yield* call<Created>(
                {
                  kind: "create",
                  spec: {
                    ...spec,
                    executionProviders: providers,
                    ...((spec.intraOpThreads ?? config.intraOpThreads)
                      ? { intraOpThreads: spec.intraOpThreads ?? config.intraOpThreads }
                      : {}),
                  },
                } as Omit<Request, "id">,
                "create",
              )
              for (const fallback of created.fallbacks)
                yield* Effect.logWarning(
                  `onnxruntime: execution provider "${fallback.provider}" unavailable (${fallback.reason}); falling back`,
                )
              const session: Session & { readonly id: number } = {
                id: created.session,
                provider: created.provider,
                inputNames: created.inputNames,
                outputNames: created.outputNames,
                run: (feeds, fetches) => {
                  const compacted: Record<string, OrtTensor> = {}
                  for (const [name, tensor] of Object.entries(feeds)) compacted[name] = compact(tensor)
                  return call<Record<string, OrtTensor>>(
                    {
                      kind: "run",
                      session: created.session,
                      feeds: compacted,
                      ...(fetches ? { fetches } : {}),
                    } as Omit<Request, "id">,
                    "run",
                  )
                },
              }
              return session
            }),
            (session) =>
              call({ kind: "release", session: session.id } as Omit<Request, "id">, "release").pipe(
                Effect.ignore,
              ),
          )
        return OrtSession.of({ config, open })
      }),
    )
  }

  /** CPU only, two intra-op threads: what tests and CI use. */
  static readonly layerCpu: Layer.Layer<OrtSession> = OrtSession.layer({
    executionProviders: ["cpu"],
    intraOpThreads: 2,
  })
}
