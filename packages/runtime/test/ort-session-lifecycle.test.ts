import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { GraphBuilder, OrtSession, type OrtSessionError } from "../src/index.ts"
import { layerWithWorker, ortWorkerExecArgv, ortWorkerPath } from "../src/OrtSession.ts"

const rng = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32 - 0.5
}
const randn = (n: number, seed: number) => Float32Array.from({ length: n }, rng(seed))

/** A model whose run takes some tens of milliseconds: `x` through `depth` chained 512×512 MatMuls. */
const slowModel = (depth: number) => {
  const d = 512
  const g = new GraphBuilder("slow")
  let x = g.input("x", "float32", [256, d])
  const w = g.initializer("w", { type: "float32", dims: [d, d], data: randn(d * d, 1).map((v) => v * 0.08) })
  for (let i = 0; i < depth; i++) x = g.op("MatMul", [x, w])
  g.output(x, "y", "float32")
  return g.toBytes()
}
const feeds = { x: { type: "float32" as const, dims: [256, 512], data: randn(256 * 512, 2) } }

/** An `OrtSession` layer whose worker threads the test can reach. */
const trackedLayer = () => {
  const workers: Worker[] = []
  const layer = layerWithWorker({ executionProviders: ["cpu"], intraOpThreads: 1 }, () => {
    const worker = new Worker(ortWorkerPath(), { execArgv: ortWorkerExecArgv() })
    workers.push(worker)
    return worker
  })
  return { workers, layer }
}

describe("OrtSession worker lifecycle", () => {
  // The worker is killed between runs: killing it inside a native onnxruntime call aborts the process.
  it("a worker that dies fails later runs with a worker error; the next open starts a fresh worker", async () => {
    const { workers, layer } = trackedLayer()
    const model = slowModel(2)
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const ort = yield* OrtSession
          const session = yield* ort.open({ model })
          yield* session.run(feeds)
          yield* Effect.promise(() => workers[0]!.terminate())
          const later = yield* Effect.flip(session.run(feeds))
          const fresh = yield* ort.open({ model })
          const out = yield* fresh.run(feeds)
          return { later, dims: out.y!.dims }
        }),
      ).pipe(Effect.provide(layer)),
    )
    expect(result.later._tag).toBe("OrtSessionError")
    expect(result.later.operation).toBe("worker")
    expect(result.later.message).toMatch(/exited with code 1; its sessions are gone/)
    expect(workers.length).toBe(2)
    expect(result.dims).toEqual([256, 512])
  })

  it("closing the layer while a run is in flight lets the run finish, then stops the worker cleanly", async () => {
    const { workers, layer } = trackedLayer()
    const model = slowModel(8)
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(layer, scope)
        const ort = Context.get(context, OrtSession)
        const session = yield* ort.open({ model }).pipe(Scope.provide(scope))
        const inFlight = yield* Effect.forkChild(Effect.exit(session.run(feeds)))
        yield* Effect.yieldNow
        yield* Scope.close(scope, Exit.void)
        return yield* Fiber.join(inFlight)
      }),
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(workers[0]!.threadId).toBe(-1)
  })

  it("releasing a session while runs are queued lets those runs finish first", async () => {
    const { layer } = trackedLayer()
    const model = slowModel(6)
    const outcomes = await Effect.runPromise(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const session = yield* (yield* OrtSession).open({ model }).pipe(Scope.provide(scope))
        const runs = [
          yield* Effect.forkChild(Effect.exit(session.run(feeds))),
          yield* Effect.forkChild(Effect.exit(session.run(feeds))),
          yield* Effect.forkChild(Effect.exit(session.run(feeds))),
        ]
        yield* Effect.yieldNow
        yield* Scope.close(scope, Exit.void)
        const exits = yield* Effect.forEach(runs, Fiber.join)
        const afterRelease = yield* Effect.flip(session.run(feeds))
        return { exits, afterRelease }
      }).pipe(Effect.provide(layer)),
    )
    expect(outcomes.exits.map(Exit.isSuccess)).toEqual([true, true, true])
    expect(outcomes.afterRelease.operation).toBe("run")
    expect(outcomes.afterRelease.message).toMatch(/does not exist \(released\?\)/)
  })

  it("a session whose scope outlives the OrtSession layer fails with a worker error and releases quietly", async () => {
    const { workers, layer } = trackedLayer()
    const g = new GraphBuilder("relu")
    g.output(g.op("Relu", [g.input("x", "float32", [2])]), "y", "float32")
    const model = g.toBytes()
    const outer = await Effect.runPromise(Scope.make())
    const session = await Effect.runPromise(
      Effect.gen(function* () {
        return yield* (yield* OrtSession).open({ model }).pipe(Scope.provide(outer))
      }).pipe(Effect.provide(layer)),
    )
    // The layer (and its worker) is gone once `Effect.provide` finished; the session's scope is still open.
    const x = { x: { type: "float32" as const, dims: [2], data: Float32Array.from([-1, 1]) } }
    const error: OrtSessionError = await Effect.runPromise(Effect.flip(session.run(x)))
    expect(error.operation).toBe("worker")
    expect(workers[0]!.threadId).toBe(-1)
    await Effect.runPromise(Scope.close(outer, Exit.void))
  })

  it("a plain script (no test runner holding the process) gets its result and closes the layer before exiting", () => {
    const index = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "index.ts")
    const script = `
      import { Effect } from "effect"
      import { GraphBuilder, OrtSession } from ${JSON.stringify(index)}
      const g = new GraphBuilder("relu")
      g.output(g.op("Relu", [g.input("x", "float32", [2])]), "y", "float32")
      const program = Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        return yield* session.run({ x: { type: "float32", dims: [2], data: Float32Array.from([-1, 3]) } })
      })
      const out = await Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(OrtSession.layerCpu)))
      console.log("result", [...out.y.data].join(","))
    `
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.dirname(index),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
    expect(output.trim()).toBe("result 0,3")
  })
})
