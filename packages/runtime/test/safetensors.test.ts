import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Checkpoint, float32ToBf16, upstreamFixturesDir, writeSafetensors } from "../src/index.ts"

const fixtures = upstreamFixturesDir()
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "st-"))

const run = <A, E>(effect: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))
const failure = async <A, E>(effect: Effect.Effect<A, E, import("effect").Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(Effect.flip(effect)))

describe("safetensors reader on the upstream fixtures", () => {
  it("loads every BF16 tensor of lm-tiny with its declared shape", async () => {
    const header = JSON.parse(readHeader(path.join(fixtures, "lm-tiny.safetensors")))
    const names = Object.keys(header).filter((k) => k !== "__metadata__")
    await run(
      Effect.gen(function* () {
        const ckpt = yield* Checkpoint.open(path.join(fixtures, "lm-tiny.safetensors"))
        expect(ckpt.names.length).toBe(names.length)
        for (const name of names) {
          expect(header[name].dtype).toBe("BF16")
          const t = yield* ckpt.float32(name)
          expect(t.shape).toEqual(header[name].shape)
          expect(t.data.length).toBe(header[name].shape.reduce((a: number, b: number) => a * b, 1))
          expect(t.data.every(Number.isFinite)).toBe(true)
        }
        const emb = yield* ckpt.float32("text_emb.weight")
        expect(emb.shape).toEqual([1001, 64])
      }),
    )
  })

  it("loads every F32 tensor of mimi-tiny with its declared shape", async () => {
    const header = JSON.parse(readHeader(path.join(fixtures, "mimi-tiny.safetensors")))
    const names = Object.keys(header).filter((k) => k !== "__metadata__")
    await run(
      Effect.gen(function* () {
        const ckpt = yield* Checkpoint.open(path.join(fixtures, "mimi-tiny.safetensors"))
        for (const name of names) {
          expect(header[name].dtype).toBe("F32")
          const t = yield* ckpt.float32(name)
          expect(t.shape).toEqual(header[name].shape)
          expect(t.data.length).toBe(header[name].shape.reduce((a: number, b: number) => a * b, 1))
        }
        expect(names.length).toBeGreaterThan(50)
      }),
    )
  })

  it("widens bf16 exactly: the value read equals the stored bits shifted left", async () => {
    await run(
      Effect.gen(function* () {
        const ckpt = yield* Checkpoint.open(path.join(fixtures, "lm-tiny.safetensors"))
        const raw = (yield* ckpt.read("out_norm.alpha")).data as Uint16Array
        const wide = (yield* ckpt.float32("out_norm.alpha")).data
        const bits = new Uint32Array(wide.buffer, wide.byteOffset, wide.length)
        for (let i = 0; i < raw.length; i++) expect(bits[i]).toBe((raw[i]! << 16) >>> 0)
      }),
    )
  })
})

describe("safetensors writer and shards", () => {
  it("round-trips F32, BF16, I64 and I32 tensors", async () => {
    const file = path.join(tmp(), "a.safetensors")
    const f = Float32Array.from([1.5, -2, 3.25, 1e-3])
    writeSafetensors(file, [
      { name: "f", dtype: "F32", shape: [2, 2], data: f },
      { name: "b", dtype: "BF16", shape: [4], data: float32ToBf16(f) },
      { name: "i", dtype: "I64", shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) },
      { name: "j", dtype: "I32", shape: [1], data: Int32Array.from([7]) },
    ])
    await run(
      Effect.gen(function* () {
        const ckpt = yield* Checkpoint.open(file)
        expect([...(yield* ckpt.float32("f")).data]).toEqual([...f])
        expect([...(yield* ckpt.float32("b")).data]).toEqual([1.5, -2, 3.25, 0.00099945068359375])
        expect([...(yield* ckpt.int32("i")).data]).toEqual([1, -2, 3])
        expect([...(yield* ckpt.int32("j")).data]).toEqual([7])
      }),
    )
  })

  it("reads a checkpoint split into shards by model.safetensors.index.json", async () => {
    const dir = tmp()
    writeSafetensors(path.join(dir, "model-00001-of-00002.safetensors"), [
      { name: "a", dtype: "F32", shape: [2], data: Float32Array.from([1, 2]) },
    ])
    writeSafetensors(path.join(dir, "model-00002-of-00002.safetensors"), [
      { name: "b", dtype: "F32", shape: [1], data: Float32Array.from([3]) },
    ])
    fs.writeFileSync(
      path.join(dir, "model.safetensors.index.json"),
      JSON.stringify({
        weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
      }),
    )
    await run(
      Effect.gen(function* () {
        const ckpt = yield* Checkpoint.open(dir)
        expect([...ckpt.names].sort()).toEqual(["a", "b"])
        expect([...(yield* ckpt.float32("b")).data]).toEqual([3])
      }),
    )
  })
})

describe("safetensors errors name the problem", () => {
  const good = () => {
    const file = path.join(tmp(), "good.safetensors")
    writeSafetensors(file, [{ name: "w", dtype: "F32", shape: [4, 4], data: new Float32Array(16) }])
    return file
  }

  it("a truncated file", async () => {
    const file = good()
    fs.truncateSync(file, fs.statSync(file).size - 10)
    const error = await failure(Checkpoint.open(file))
    expect(error._tag).toBe("SafetensorsFormatError")
    expect(error.message).toMatch(/"w".*truncated/)
  })

  it("a header that is not JSON", async () => {
    const file = path.join(tmp(), "bad.safetensors")
    const header = Buffer.from("{not json")
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    fs.writeFileSync(file, Buffer.concat([len, header]))
    expect((await failure(Checkpoint.open(file))).message).toMatch(/not valid JSON/)
  })

  it("an absurd header length (not a safetensors file)", async () => {
    const file = path.join(tmp(), "x.safetensors")
    fs.writeFileSync(file, "this is a text file, not weights")
    expect((await failure(Checkpoint.open(file))).message).toMatch(/header/)
  })

  it("an unknown dtype", async () => {
    const file = path.join(tmp(), "dt.safetensors")
    const header = Buffer.from(JSON.stringify({ w: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }))
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    fs.writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(1)]))
    expect((await failure(Checkpoint.open(file))).message).toMatch(/"w" has unknown dtype "F8_E4M3"/)
  })

  it("a missing tensor names the tensor and the file", async () => {
    const file = good()
    const error = await failure(
      Effect.flatMap(Checkpoint.open(file), (c) => c.float32("encoder.model.0.conv.weight")),
    )
    expect(error._tag).toBe("MissingTensorError")
    expect(error.message).toContain("encoder.model.0.conv.weight")
    expect(error.message).toContain(file)
  })

  it("a wrong shape names the tensor, the expected and the actual shape", async () => {
    const file = good()
    const error = await failure(Effect.flatMap(Checkpoint.open(file), (c) => c.float32("w", [4, 8])))
    expect(error._tag).toBe("TensorMismatchError")
    expect(error.message).toMatch(/"w".*\[4,8\].*\[4,4\]/)
  })
})

function readHeader(file: string): string {
  const buf = fs.readFileSync(file)
  const n = Number(buf.readBigUInt64LE(0))
  return buf.subarray(8, 8 + n).toString("utf8")
}
