import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { ortWorkerExecArgv } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import type { LoadSettings, RecognizerRequest, RecognizerResponse } from "./recognizerProtocol.ts"

/** Speech to text on a worker thread: one model, requests answered in order. */
export interface Recognizer {
  /** The text of 24 kHz mono audio; rejects with the worker's reason. */
  recognize(samples: Float32Array): Promise<string>
}

// Same folder and extension as this module: `src/*.ts` under test, `dist/*.js` when built.
const workerPath = () => {
  const here = fileURLToPath(import.meta.url)
  return path.join(path.dirname(here), `recognizerWorker${path.extname(here)}`)
}

type Body = RecognizerRequest extends infer R ? (R extends RecognizerRequest ? Omit<R, "id"> : never) : never

const client = (worker: Worker) => {
  let next = 0
  let dead: string | undefined
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>()
  const failAll = (reason: string) => {
    dead ??= reason
    for (const p of pending.values()) p.reject(new Error(dead))
    pending.clear()
  }
  worker.on("message", (response: RecognizerResponse) => {
    const p = pending.get(response.id)
    if (!p) return
    pending.delete(response.id)
    if (response.ok) p.resolve(response.text)
    else p.reject(new Error(response.error))
  })
  worker.on("error", (error) => failAll(`recognizer worker failed: ${error.message}`))
  worker.on("exit", (code) => failAll(`recognizer worker exited (code ${code})`))
  const send = (body: Body, transfer: ReadonlyArray<ArrayBuffer> = []) =>
    new Promise<string>((resolve, reject) => {
      if (dead) return reject(new Error(dead))
      const id = next++
      pending.set(id, { resolve, reject })
      worker.postMessage({ ...body, id }, [...transfer])
    })
  return { send }
}

/** Starts the worker and loads the model in it; the worker ends with the scope. */
export const openRecognizer = (settings: LoadSettings): Effect.Effect<Recognizer, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => new Worker(workerPath(), { execArgv: ortWorkerExecArgv() })),
      (w) => Effect.promise(() => w.terminate()),
    )
    const { send } = client(worker)
    yield* Effect.tryPromise({
      try: () => send({ kind: "load", settings }),
      catch: (error) => (error instanceof Error ? error : new Error(String(error))),
    })
    return {
      recognize: (samples: Float32Array) => {
        const copy = samples.slice()
        return send({ kind: "recognize", samples: copy }, [copy.buffer as ArrayBuffer])
      },
    }
  })
