// Exploratory probe of onnxruntime-node's WebGPU provider on the GPU machine:
// per-run overhead, GEMV bandwidth for fp32/fp16/int8/int4 weights, and device-resident state.

import * as fs from "node:fs"
import { float32ToF16, GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const ep = process.argv[2] ?? "webgpu"
const out = process.argv[3] ?? "probe.json"
const results = {}
let seed = 1
const rand = (n, scale = 0.02) => {
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    a[i] = (seed / 2 ** 32 - 0.5) * scale
  }
  return a
}
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]
const opts = (extra = {}) => ({
  executionProviders: [ep],
  graphOptimizationLevel: "all",
  extra: { session: { disable_cpu_ep_fallback: ep === "cpu" ? "0" : "1" } },
  ...extra,
})

async function time(name, session, feeds, runs = 50) {
  for (let i = 0; i < 5; i++) await session.run(feeds)
  const ts = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await session.run(feeds)
    ts.push(performance.now() - t)
  }
  results[name] = { p50: pct(ts, 50), p99: pct(ts, 99), min: Math.min(...ts) }
  console.log(name, JSON.stringify(results[name]))
}

// 1. per-run overhead
{
  const g = new GraphBuilder("add")
  g.output(
    g.op("Add", [g.input("x", "float32", [1, 16]), g.constant("float32", [1, 16], new Float32Array(16))]),
    "y",
    "float32",
  )
  const s = await ort.InferenceSession.create(g.toBytes(), opts())
  await time("overhead_add", s, { x: new ort.Tensor("float32", new Float32Array(16), [1, 16]) }, 200)
}

// 2. GEMV chains: L layers of [1,D]x[D,D]
const D = 4096
const L = Number(process.env.PROBE_LAYERS ?? 16)
for (const precision of ["float16", "int4", "int8", "float32"]) {
  const g = new GraphBuilder(`gemv_${precision}`)
  let x = g.input("x", precision === "float16" ? "float16" : "float32", [1, D])
  const t0 = performance.now()
  for (let l = 0; l < L; l++) {
    const w = rand(D * D)
    if (precision === "float32")
      x = g.op("MatMul", [x, g.initializer(`w${l}`, { type: "float32", dims: [D, D], data: w })])
    else if (precision === "float16")
      x = g.op("MatMul", [
        x,
        g.initializer(`w${l}`, { type: "float16", dims: [D, D], data: float32ToF16(w) }),
      ])
    else {
      const bits = precision === "int4" ? 4 : 8
      const block = 32
      const kb = D / block
      const packed = new Uint8Array((D * kb * block * bits) / 8)
      for (let i = 0; i < packed.length; i++) packed[i] = (i * 2654435761) >>> 24
      const scales = new Float32Array(D * kb).fill(0.001)
      ;[x] = g.msOp(
        "MatMulNBits",
        [
          x,
          g.initializer(`b${l}`, { type: "uint8", dims: [D, kb, (block * bits) / 8], data: packed }),
          g.initializer(`s${l}`, { type: "float32", dims: [D * kb], data: scales }),
        ],
        { K: D, N: D, bits, block_size: block },
      )
    }
  }
  g.output(x, "y", precision === "float16" ? "float16" : "float32")
  const path = `/tmp/gemv_${precision}.onnx`
  g.save(path)
  const buildMs = performance.now() - t0
  const t1 = performance.now()
  let s
  try {
    s = await ort.InferenceSession.create(path, opts())
  } catch (e) {
    console.log(precision, "create failed", e.message)
    results[`gemv_${precision}`] = { error: e.message }
    continue
  }
  const createMs = performance.now() - t1
  const feed =
    precision === "float16"
      ? new ort.Tensor("float16", float32ToF16(rand(D, 1)), [1, D])
      : new ort.Tensor("float32", rand(D, 1), [1, D])
  await time(`gemv_${precision}`, s, { x: feed }, 30)
  const bytes = { float32: 4, float16: 2, int8: 1, int4: 0.5 }[precision] * D * D * L
  results[`gemv_${precision}`].GBps = bytes / 1e9 / (results[`gemv_${precision}`].p50 / 1000)
  results[`gemv_${precision}`].buildMs = buildMs
  results[`gemv_${precision}`].createMs = createMs
  console.log(
    precision,
    "GB/s",
    results[`gemv_${precision}`].GBps.toFixed(0),
    "create ms",
    createMs.toFixed(0),
  )
  await s.release()
  fs.rmSync(path, { force: true })
  fs.rmSync(`${path}.data`, { force: true })
}

// 3. device-resident state: kv [1,32,3000,128] updated by ScatterND each run, fed back
{
  const H = 32,
    T = 3000,
    Dh = 128
  const g = new GraphBuilder("kv")
  const kv = g.input("kv", "float16", [T, H, Dh])
  const upd = g.input("upd", "float16", [1, H, Dh])
  const pos = g.input("pos", "int64", [1, 1])
  g.output(g.op("ScatterND", [kv, pos, upd]), "kv_out", "float16", [T, H, Dh])
  const path = "/tmp/kv.onnx"
  g.save(path)
  for (const location of ["cpu", "gpu-buffer"]) {
    let s
    try {
      s = await ort.InferenceSession.create(path, { ...opts(), preferredOutputLocation: location })
    } catch (e) {
      console.log("kv", location, e.message)
      continue
    }
    let state = new ort.Tensor("float16", new Uint16Array(H * T * Dh), [T, H, Dh])
    const upd = new ort.Tensor("float16", new Uint16Array(H * Dh).fill(0x3c00), [1, H, Dh])
    const ts = []
    for (let i = 0; i < 40; i++) {
      const idxT = new ort.Tensor("int64", BigInt64Array.from([BigInt(i)]), [1, 1])
      const t = performance.now()
      const r = await s.run({ kv: state, upd, pos: idxT })
      ts.push(performance.now() - t)
      if (state !== r.kv_out && location === "gpu-buffer" && i > 0) state.dispose()
      state = r.kv_out
    }
    const warm = ts.slice(5)
    results[`kv_state_${location}`] = { p50: pct(warm, 50), p99: pct(warm, 99), location: state.location }
    console.log("kv", location, JSON.stringify(results[`kv_state_${location}`]))
  }
}
fs.writeFileSync(out, JSON.stringify(results, null, 2))
