// Where a WebGPU step's time goes on the GPU itself: chains of linear layers (M = 1, as in one LM step)
// in each weight form the step graph could use, timed by the provider's GPU timestamps (session
// profiling) next to the wall time of a run. Shapes: the temporal FFN (4096 -> 11264 -> 4096, pairs)
// and the depformer's 1024 x 1024. Distinct weights per layer, more than the L2 cache holds.
// Prints one line per form and writes JSON (`quick`: two layers each, to try it on a software adapter):
//   node probe/gpu-kernel-probe.mjs [out.json] [quick]
import { randomFillSync } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { findProfile, summarizeProfile } from "@personaplex/bench"
import { float32ToF16, GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const out = process.argv[2] ?? "gpu-kernel-probe.json"
const quick = process.argv[3] === "quick"
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-kernel-probe-"))

const forms = [
  { name: "int8 b32 acc0 f16", bits: 8, block: 32, acc: 0, act: "float16" },
  { name: "int8 b32 acc0 f32", bits: 8, block: 32, acc: 0, act: "float32" },
  { name: "int8 b32 acc4 f16", bits: 8, block: 32, acc: 4, act: "float16" },
  { name: "int8 b128 acc0 f16", bits: 8, block: 128, acc: 0, act: "float16" },
  { name: "int4 b32 acc0 f16", bits: 4, block: 32, acc: 0, act: "float16" },
  { name: "int4 b32 acc4 f16", bits: 4, block: 32, acc: 4, act: "float16" },
  { name: "int4 b128 acc4 f16", bits: 4, block: 128, acc: 4, act: "float16" },
  { name: "MatMul f16", bits: 16, act: "float16" },
  { name: "MatMul f32", bits: 32, act: "float32" },
]
const shapes = [
  { name: "ffn 4096<->11264", dims: [4096, 11264], layers: quick ? 2 : 8 },
  { name: "depformer 1024", dims: [1024, 1024], layers: quick ? 2 : 24 },
]

let seed = 7
const uniform = (n, bound) => {
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    a[i] = (seed / 2 ** 32 - 0.5) * 2 * bound
  }
  return a
}

/** One layer K -> N in `form`, with random weights of about unit gain; returns [output, weight bytes]. */
const layer = (g, x, k, n, form, l) => {
  if (form.bits >= 16) {
    const w = uniform(k * n, Math.sqrt(3 / k))
    const data = form.bits === 16 ? float32ToF16(w) : w
    return [
      g.op("MatMul", [x, g.initializer(`w${l}`, { type: form.act, dims: [k, n], data })]),
      data.byteLength,
    ]
  }
  const blocks = k / form.block
  const packed = new Uint8Array((n * blocks * form.block * form.bits) / 8)
  randomFillSync(packed)
  const std = form.bits === 8 ? 74 : 4.6 // of a uniform code around the default zero point
  const scales = new Float32Array(n * blocks).fill(1 / (Math.sqrt(k) * std))
  const [y] = g.msOp(
    "MatMulNBits",
    [
      x,
      g.initializer(`b${l}`, {
        type: "uint8",
        dims: [n, blocks, (form.block * form.bits) / 8],
        data: packed,
      }),
      g.initializer(`s${l}`, {
        type: form.act,
        dims: [n * blocks],
        data: form.act === "float16" ? float32ToF16(scales) : scales,
      }),
    ],
    { K: k, N: n, bits: form.bits, block_size: form.block, accuracy_level: form.acc },
  )
  return [y, packed.byteLength + scales.byteLength / (form.act === "float16" ? 2 : 1)]
}

const model = (shape, form) => {
  const g = new GraphBuilder("chain", 21)
  const [a, b] = shape.dims
  let x = g.input("x", form.act, [1, 1, a])
  let bytes = 0
  for (let l = 0; l < shape.layers; l++) {
    const [k, n] = l % 2 === 0 ? [a, b] : [b, a]
    const [y, layerBytes] = layer(g, x, k, n, form, l)
    x = y
    bytes += layerBytes
  }
  g.output(x, "y", form.act, [1, 1, a])
  const file = path.join(dir, "chain.onnx")
  g.save(file)
  return { file, bytes }
}

const p50 = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]
const options = { executionProviders: ["webgpu"], extra: { session: { disable_cpu_ep_fallback: "1" } } }
const feedOf = (shape, form) => {
  const x = uniform(shape.dims[0], 1)
  return { x: new ort.Tensor(form.act, form.act === "float16" ? float32ToF16(x) : x, [1, 1, shape.dims[0]]) }
}

const results = []
for (const shape of shapes)
  for (const form of forms) {
    const entry = { shape: shape.name, form: form.name, layers: shape.layers }
    try {
      const { file, bytes } = model(shape, form)
      entry.weightMB = bytes / 1e6
      const feeds = feedOf(shape, form)
      const plain = await ort.InferenceSession.create(file, options)
      const wall = []
      for (let i = 0; i < 60; i++) {
        const t = performance.now()
        await plain.run(feeds)
        if (i >= 10) wall.push(performance.now() - t)
      }
      await plain.release()
      entry.wallMs = p50(wall)
      const prefix = path.join(dir, `profile-${results.length}`)
      const profiled = await ort.InferenceSession.create(file, {
        ...options,
        enableProfiling: true,
        profileFilePrefix: prefix,
      })
      for (let i = 0; i < 20; i++) await profiled.run(feeds)
      profiled.endProfiling()
      await profiled.release()
      const profile = findProfile(prefix)
      const gpu = profile ? summarizeProfile(profile).gpu : undefined
      if (gpu) {
        entry.gpuMs = gpu.ms
        entry.kernels = gpu.kernels
        entry.gpuUsPerLayer = (gpu.ms * 1000) / shape.layers
        entry.GBps = bytes / 1e9 / (gpu.ms / 1000)
      }
      fs.rmSync(file, { force: true })
      fs.rmSync(`${file}.data`, { force: true })
    } catch (error) {
      entry.error = String(error.message ?? error).slice(0, 300)
    }
    results.push(entry)
    console.log(
      `${entry.shape.padEnd(18)} ${entry.form.padEnd(20)} ` +
        (entry.error
          ? `FAILED ${entry.error}`
          : `wall ${entry.wallMs.toFixed(2)} ms; GPU ${entry.gpuMs?.toFixed(2) ?? "?"} ms in ${entry.kernels ?? "?"} kernels, ` +
            `${entry.gpuUsPerLayer?.toFixed(1) ?? "?"} us/layer, ${entry.GBps?.toFixed(0) ?? "?"} GB/s of ${entry.weightMB.toFixed(0)} MB`),
    )
  }
fs.writeFileSync(out, JSON.stringify(results, null, 2))
fs.rmSync(dir, { recursive: true, force: true })
