/**
 * The thread that owns every onnxruntime session. `InferenceSession.run` in onnxruntime-node is
 * synchronous (it blocks the calling thread), so it must never run on the main thread.
 */
import { parentPort } from "node:worker_threads"
import * as ort from "onnxruntime-node"
import type { Created, Feeds, OrtTensor, Request, Response, SessionSpec } from "./ortProtocol.ts"

const sessions = new Map<number, ort.InferenceSession>()
let nextSession = 1

const create = async (
  spec: SessionSpec & { executionProviders: ReadonlyArray<string> },
): Promise<Created> => {
  const fallbacks: Array<{ provider: string; reason: string }> = []
  for (const provider of spec.executionProviders) {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: spec.graphOptimizationLevel ?? "all",
      ...(spec.intraOpThreads ? { intraOpNumThreads: spec.intraOpThreads, interOpNumThreads: 1 } : {}),
      extra: {
        session: {
          ...(spec.disablePrepacking ? { disable_prepacking: "1" } : {}),
          ...(spec.disableCpuFallback && provider !== "cpu" ? { disable_cpu_ep_fallback: "1" } : {}),
        },
      },
    }
    try {
      const session =
        typeof spec.model === "string"
          ? await ort.InferenceSession.create(spec.model, options)
          : await ort.InferenceSession.create(spec.model, options)
      const id = nextSession++
      sessions.set(id, session)
      return {
        session: id,
        provider: provider as Created["provider"],
        inputNames: session.inputNames,
        outputNames: session.outputNames,
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

const run = async (session: number, feeds: Feeds, fetches?: ReadonlyArray<string>) => {
  const s = sessions.get(session)
  if (!s) throw new Error(`session ${session} does not exist (released?)`)
  const ortFeeds: Record<string, ort.Tensor> = {}
  for (const [name, t] of Object.entries(feeds))
    ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims)
  const results = fetches ? await s.run(ortFeeds, [...fetches]) : await s.run(ortFeeds)
  const out: Record<string, OrtTensor> = {}
  const transfer: ArrayBuffer[] = []
  for (const [name, t] of Object.entries(results)) {
    const data = t.data as OrtTensor["data"]
    out[name] = { type: t.type as OrtTensor["type"], dims: [...t.dims], data }
    transfer.push(data.buffer as ArrayBuffer)
    t.dispose()
  }
  return { out, transfer }
}

const handle = async (request: Request): Promise<void> => {
  try {
    if (request.kind === "create") {
      port.postMessage({ id: request.id, ok: true, value: await create(request.spec) } satisfies Response)
    } else if (request.kind === "run") {
      const { out, transfer } = await run(request.session, request.feeds, request.fetches)
      port.postMessage({ id: request.id, ok: true, value: out } satisfies Response, [...new Set(transfer)])
    } else {
      await sessions.get(request.session)?.release()
      sessions.delete(request.session)
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
