import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Attr, GraphBuilder, OrtSession, writeSafetensors } from "../src/index.ts"

const rng = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32 - 0.5
}
const randn = (n: number, seed: number) => Float32Array.from({ length: n }, rng(seed))

const matmul = (a: Float32Array, b: Float32Array, m: number, k: number, n: number) => {
  const out = new Float32Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!
      out[i * n + j] = s
    }
  return out
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

const withSessions = <A, E>(effect: Effect.Effect<A, E, OrtSession | import("effect").Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect).pipe(Effect.provide(OrtSession.layerCpu)))

describe("GraphBuilder + OrtSession on the CPU provider", () => {
  it("MatMul + Add with inline weights matches a JS reference", async () => {
    const [m, k, n] = [3, 16, 8]
    const w = randn(k * n, 1)
    const b = randn(n, 2)
    const x = randn(m * k, 3)
    const g = new GraphBuilder("mm")
    const input = g.input("x", "float32", ["batch", k])
    const y = g.op("Add", [
      g.op("MatMul", [input, g.initializer("w", { type: "float32", dims: [k, n], data: w })]),
      g.initializer("b", { type: "float32", dims: [n], data: b }),
    ])
    g.output(y, "y", "float32", ["batch", n])
    const expected = matmul(x, w, m, k, n).map((v, i) => v + b[i % n]!)
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        expect(session.provider).toBe("cpu")
        expect(session.inputNames).toEqual(["x"])
        return yield* session.run({ x: { type: "float32", dims: [m, k], data: x } })
      }),
    )
    expect(out.y!.dims).toEqual([m, n])
    expect(maxAbsDiff(out.y!.data as Float32Array, expected)).toBeLessThan(1e-5)
  })

  it("transferFeeds hands the feeds' buffers to the worker: same result, the caller's array detached", async () => {
    const g = new GraphBuilder("double")
    g.output(g.op("Add", [g.input("x", "float32", [4]), "x"]), "y", "float32", [4])
    const x = Float32Array.of(1, 2, 3, 4)
    const kept = Float32Array.of(1, 2, 3, 4)
    const [moved, copied] = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        const moved = yield* session.run({ x: { type: "float32", dims: [4], data: x } }, undefined, {
          transferFeeds: true,
        })
        const copied = yield* session.run({ x: { type: "float32", dims: [4], data: kept } })
        return [moved, copied] as const
      }),
    )
    expect([...(moved.y!.data as Float32Array)]).toEqual([2, 4, 6, 8])
    expect([...(copied.y!.data as Float32Array)]).toEqual([2, 4, 6, 8])
    expect(x.length).toBe(0)
    expect(kept.length).toBe(4)
  })

  it("reads a BF16 weight in place from a .safetensors file as external data", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ext-"))
    const [k, n] = [8, 4]
    const w = randn(k * n, 7)
    const bits = new Uint16Array(new Uint32Array(w.buffer).map((v) => v >>> 16))
    const weights = path.join(dir, "w.safetensors")
    writeSafetensors(weights, [
      { name: "pad", dtype: "F32", shape: [3], data: new Float32Array(3) },
      { name: "w", dtype: "BF16", shape: [k, n], data: bits },
    ])
    const header = Number(fs.readFileSync(weights).readBigUInt64LE(0))
    const g = new GraphBuilder("ext")
    const x = g.input("x", "float32", [1, k])
    const wb = g.externalInitializer("w", {
      type: "bfloat16",
      dims: [k, n],
      file: "w.safetensors",
      offset: 8 + header + 12,
      length: k * n * 2,
    })
    g.output(g.op("MatMul", [x, g.op("Cast", [wb], { to: 1 })]), "y", "float32")
    const model = g.save(path.join(dir, "ext.onnx"))
    const xs = randn(k, 9)
    const truncated = new Float32Array(new Uint32Array(bits.length).map((_, i) => bits[i]! << 16).buffer)
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model, disablePrepacking: true })
        return yield* session.run({ x: { type: "float32", dims: [1, k], data: xs } })
      }),
    )
    expect(maxAbsDiff(out.y!.data as Float32Array, matmul(xs, truncated, 1, k, n))).toBeLessThan(1e-5)
  })

  it("saves large initializers to a side file and computes LayerNormalization like the formula", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ln-"))
    const d = 512
    const gamma = randn(d, 4)
    const beta = randn(d, 5)
    const g = new GraphBuilder("ln")
    const x = g.input("x", "float32", [2, d])
    const y = g.op(
      "LayerNormalization",
      [
        x,
        g.initializer("g", { type: "float32", dims: [d], data: gamma }),
        g.initializer("b", { type: "float32", dims: [d], data: beta }),
      ],
      { axis: -1, epsilon: Attr.float(1e-5) },
    )
    g.output(y, "y", "float32")
    const model = g.save(path.join(dir, "ln.onnx"), { externalThreshold: 1024 })
    expect(fs.statSync(`${model}.data`).size).toBeGreaterThanOrEqual(2 * d * 4)
    const xs = randn(2 * d, 6)
    const expected = new Float32Array(2 * d)
    for (let r = 0; r < 2; r++) {
      const row = xs.subarray(r * d, (r + 1) * d)
      const mean = row.reduce((a, b) => a + b, 0) / d
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / d
      for (let i = 0; i < d; i++)
        expected[r * d + i] = ((row[i]! - mean) / Math.sqrt(variance + 1e-5)) * gamma[i]! + beta[i]!
    }
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model })
        return yield* session.run({ x: { type: "float32", dims: [2, d], data: xs.subarray(0) } })
      }),
    )
    expect(maxAbsDiff(out.y!.data as Float32Array, expected)).toBeLessThan(1e-4)
  })

  it("MatMulNBits (int8, block 32) matches the dequantized reference", async () => {
    const [k, n, block] = [64, 16, 32]
    const w = randn(k * n, 11) // [k, n]
    const blocks = k / block
    const packed = new Uint8Array(n * blocks * block)
    const scales = new Float32Array(n * blocks)
    const dequant = new Float32Array(k * n)
    for (let col = 0; col < n; col++)
      for (let bl = 0; bl < blocks; bl++) {
        let amax = 0
        for (let i = 0; i < block; i++) amax = Math.max(amax, Math.abs(w[(bl * block + i) * n + col]!))
        const scale = amax / 127 || 1
        scales[col * blocks + bl] = scale
        for (let i = 0; i < block; i++) {
          const q = Math.max(-128, Math.min(127, Math.round(w[(bl * block + i) * n + col]! / scale)))
          packed[(col * blocks + bl) * block + i] = q + 128
          dequant[(bl * block + i) * n + col] = q * scale
        }
      }
    const g = new GraphBuilder("nbits")
    const x = g.input("x", "float32", [1, k])
    const [y] = g.msOp(
      "MatMulNBits",
      [
        x,
        g.initializer("B", { type: "uint8", dims: [n, blocks, block], data: packed }),
        g.initializer("s", { type: "float32", dims: [n * blocks], data: scales }),
      ],
      { K: k, N: n, bits: 8, block_size: block },
    )
    g.output(y!, "y", "float32")
    const xs = randn(k, 12)
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        return yield* session.run({ x: { type: "float32", dims: [1, k], data: xs } })
      }),
    )
    expect(maxAbsDiff(out.y!.data as Float32Array, matmul(xs, dequant, 1, k, n))).toBeLessThan(1e-4)
  })

  it("keeps the main thread's timers firing while a long run is in progress", async () => {
    const d = 1024
    const g = new GraphBuilder("slow")
    let x = g.input("x", "float32", [512, d])
    const w = g.initializer("w", {
      type: "float32",
      dims: [d, d],
      data: randn(d * d, 1).map((v) => v * 0.05),
    })
    for (let i = 0; i < 48; i++) x = g.op("MatMul", [x, w])
    g.output(x, "y", "float32")
    const model = g.toBytes()
    const { runMs, maxGap } = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model })
        let last = performance.now()
        let maxGap = 0
        const timer = setInterval(() => {
          const now = performance.now()
          maxGap = Math.max(maxGap, now - last)
          last = now
        }, 5)
        const start = performance.now()
        yield* session.run({ x: { type: "float32", dims: [512, d], data: randn(512 * d, 99) } })
        const runMs = performance.now() - start
        clearInterval(timer)
        return { runMs, maxGap }
      }),
    )
    console.log(
      `long run ${runMs.toFixed(0)} ms, largest gap between 5 ms timer ticks ${maxGap.toFixed(1)} ms`,
    )
    expect(runMs).toBeGreaterThan(100)
    expect(maxGap).toBeLessThan(runMs / 2)
  })

  it("falls back to the next execution provider with a warning when one is unavailable", async () => {
    const g = new GraphBuilder("id")
    g.output(g.op("Relu", [g.input("x", "float32", [2])]), "y", "float32")
    const warnings: string[] = []
    const provider = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
          const out = yield* session.run({
            x: { type: "float32", dims: [2], data: Float32Array.from([-1, 2]) },
          })
          expect([...(out.y!.data as Float32Array)]).toEqual([0, 2])
          return session.provider
        }),
      ).pipe(
        Effect.provide(Layer.mergeAll(OrtSession.layer({ executionProviders: ["cuda", "cpu"] }))),
        Effect.provide(captureWarnings(warnings)),
      ),
    )
    expect(provider).toBe("cpu")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^onnxruntime: cuda unavailable for a session, using cpu: \S/)
  })

  it("a broken model fails with a typed error naming the create step", async () => {
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.flip(
          Effect.gen(function* () {
            return yield* (yield* OrtSession).open({ model: new Uint8Array([1, 2, 3]) })
          }),
        ),
      ).pipe(Effect.provide(OrtSession.layerCpu)),
    )
    expect(error._tag).toBe("OrtSessionError")
    expect(error.operation).toBe("create")
  })
})

import { Logger } from "effect"

function captureWarnings(into: string[]) {
  return Logger.layer([Logger.make(({ message }) => into.push(String(message)))])
}

describe("GraphBuilder constants", () => {
  it("scalar, int64s and constant create distinct initializers usable by ops", async () => {
    const g = new GraphBuilder("consts")
    const x = g.input("x", "float32", [2, 3])
    const y = g.op("Mul", [g.op("Reshape", [x, g.int64s([3, 2])]), g.scalar(2)])
    g.output(g.op("Add", [y, g.constant("float32", [1, 2], [10, 20])]), "y", "float32")
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        return yield* session.run({
          x: { type: "float32", dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        })
      }),
    )
    expect(out.y!.dims).toEqual([3, 2])
    expect([...(out.y!.data as Float32Array)]).toEqual([12, 24, 16, 28, 20, 32])
  })

  it("indices holds 0, 1, 2, … in row-major order; a Gather from it turns int64 indices into floats", async () => {
    const g = new GraphBuilder("indices")
    const i = g.input("i", "int64", [3])
    g.output(g.op("Gather", [g.indices("float32", [5]), i], { axis: 0 }), "picked", "float32")
    g.output(g.op("Identity", [g.indices("int32", [2, 3])]), "table", "int32")
    const out = await withSessions(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model: g.toBytes() })
        return yield* session.run({ i: { type: "int64", dims: [3], data: BigInt64Array.of(4n, 0n, 2n) } })
      }),
    )
    expect([...(out.picked!.data as Float32Array)]).toEqual([4, 0, 2])
    expect(out.table!.dims).toEqual([2, 3])
    expect([...(out.table!.data as Int32Array)]).toEqual([0, 1, 2, 3, 4, 5])
  })
})
