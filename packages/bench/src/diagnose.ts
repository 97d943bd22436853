#!/usr/bin/env node
/**
 * Which operators an execution provider runs without falling back to the CPU, per opset: one
 * single-node graph per operator variant the GPU step graph and the Mimi graphs use, created with
 * the CPU fallback disabled. Prints one line per variant and writes JSON.
 *
 *   node packages/bench/dist/diagnose.js webgpu ops.json
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { buildStepGraph, convertWeights, lmCheckpointTensors, writeRandomLmCheckpoint } from "@personaplex/lm"
import { type ElementType, GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"
import { BENCH_MODELS } from "./configs.ts"
import { refuseOldNode } from "./nodeCheck.ts"

refuseOldNode("diagnose")

const provider = process.argv[2] ?? "webgpu"
const out = process.argv[3] ?? "ops.json"

type Probe = (g: GraphBuilder) => void
const f32 = (g: GraphBuilder, name: string, dims: number[]) => g.input(name, "float32", dims)
const done = (g: GraphBuilder, value: string, type: ElementType) => g.output(value, value, type)

const probes: Record<string, Probe> = {
  "Transpose f32": (g) =>
    done(g, g.op("Transpose", [f32(g, "x", [2, 3, 4])], { perm: [1, 0, 2] }), "float32"),
  "Identity f32": (g) => done(g, g.op("Identity", [f32(g, "x", [2, 3])]), "float32"),
  "Reshape f32": (g) => done(g, g.op("Reshape", [f32(g, "x", [2, 3]), g.int64s([3, 2])]), "float32"),
  "Cast f32->f16": (g) => done(g, g.op("Cast", [f32(g, "x", [4])], { to: 10 }), "float16"),
  "Split f32": (g) => {
    const [a] = g.opMulti("Split", [f32(g, "x", [2, 6]), g.int64s([2, 4])], 2, { axis: -1 })
    done(g, g.op("Add", [a!, a!]), "float32")
  },
  "ScatterND f16": (g) =>
    done(
      g,
      g.op("ScatterND", [
        g.input("x", "float16", [2, 8, 4]),
        g.input("i", "int64", [2, 1, 2]),
        g.input("u", "float16", [2, 1, 4]),
      ]),
      "float16",
    ),
  "Unsqueeze f32": (g) => done(g, g.op("Unsqueeze", [f32(g, "x", [2, 3]), g.int64s([0])]), "float32"),
  "ReduceSum f32": (g) =>
    done(g, g.op("ReduceSum", [f32(g, "x", [2, 3]), g.int64s([1])], { keepdims: 0 }), "float32"),
  "ReduceMin f32": (g) =>
    done(g, g.op("ReduceMin", [f32(g, "x", [2, 3]), g.int64s([-1])], { keepdims: 1 }), "float32"),
  "Where+Less f32": (g) => {
    const x = f32(g, "x", [1, 8])
    done(g, g.op("Where", [g.op("Less", [x, g.scalar(0)]), g.scalar(-1e30), x]), "float32")
  },
  "TopK f32": (g) => {
    const [v] = g.opMulti("TopK", [f32(g, "x", [1, 64]), g.input("k", "int64", [1])], 2, { axis: -1 })
    done(g, g.op("Add", [v!, v!]), "float32")
  },
  "ArgMax f32": (g) => done(g, g.op("ArgMax", [f32(g, "x", [64])], { axis: 0, keepdims: 1 }), "int64"),
  "Gather f16 table": (g) =>
    done(
      g,
      g.op("Gather", [g.input("t", "float16", [10, 4]), g.input("i", "int64", [2, 3])], { axis: 0 }),
      "float16",
    ),
  "Gather int64 data": (g) =>
    done(g, g.op("Gather", [g.input("t", "int64", [10]), g.input("i", "int64", [1])], { axis: 0 }), "int64"),
  "Concat int64": (g) =>
    done(g, g.op("Concat", [g.input("a", "int64", [1]), g.input("b", "int64", [1])], { axis: 0 }), "int64"),
  "SimplifiedLayerNormalization f32": (g) =>
    done(
      g,
      g.op("SimplifiedLayerNormalization", [f32(g, "x", [2, 8]), f32(g, "s", [8])], {
        axis: -1,
        epsilon: 1e-8,
      }),
      "float32",
    ),
  "MatMulNBits int8 f32": (g) => {
    const [y] = g.msOp(
      "MatMulNBits",
      [f32(g, "x", [1, 32]), g.input("b", "uint8", [8, 1, 32]), f32(g, "s", [8])],
      { K: 32, N: 8, bits: 8, block_size: 32 },
    )
    done(g, y!, "float32")
  },
  "MatMul f16 3-D": (g) =>
    done(
      g,
      g.op("MatMul", [g.input("a", "float16", [4, 8, 16]), g.input("b", "float16", [4, 16, 1])]),
      "float16",
    ),
  "Softmax f32": (g) => done(g, g.op("Softmax", [f32(g, "x", [2, 8])], { axis: -1 }), "float32"),
  "Slice f32": (g) =>
    done(
      g,
      g.op("Slice", [f32(g, "x", [4, 8]), g.int64s([-1]), g.int64s([2 ** 53 - 1]), g.int64s([0])]),
      "float32",
    ),
  "Gemm f32": (g) =>
    done(
      g,
      g.op("Gemm", [f32(g, "x", [1, 8]), f32(g, "w", [4, 8]), f32(g, "b", [4])], { transB: 1 }),
      "float32",
    ),
  "Conv f32": (g) => done(g, g.op("Conv", [f32(g, "x", [1, 2, 16]), f32(g, "w", [4, 2, 3])]), "float32"),
  "ConvTranspose f32": (g) =>
    done(
      g,
      g.op("ConvTranspose", [f32(g, "x", [1, 4, 8]), f32(g, "w", [4, 2, 4])], { strides: [2] }),
      "float32",
    ),
  "Pad f32": (g) => done(g, g.op("Pad", [f32(g, "x", [1, 2, 8]), g.int64s([0, 0, 2, 0, 0, 0])]), "float32"),
  "Elu f32": (g) => done(g, g.op("Elu", [f32(g, "x", [8])]), "float32"),
  "Gelu f32": (g) => done(g, g.op("Gelu", [f32(g, "x", [8])]), "float32"),
  "Expand f32": (g) => done(g, g.op("Expand", [f32(g, "x", [1, 8]), g.int64s([4, 8])]), "float32"),
  "ArgMin f32": (g) => done(g, g.op("ArgMin", [f32(g, "x", [4, 8])], { axis: -1, keepdims: 0 }), "int64"),
  "ReduceSumSquare f32": (g) =>
    done(g, g.op("ReduceSumSquare", [f32(g, "x", [4, 8]), g.int64s([-1])], { keepdims: 1 }), "float32"),
  "Mod int64": (g) => done(g, g.op("Mod", [g.input("a", "int64", [4]), g.input("b", "int64", [4])]), "int64"),
  "Equal/And/Not int64": (g) => {
    const e = g.op("Equal", [g.input("a", "int64", [4]), g.input("b", "int64", [4])])
    done(g, g.op("And", [e, g.op("Not", [e])]), "bool")
  },
  "Add int64": (g) => done(g, g.op("Add", [g.input("a", "int64", [4]), g.input("b", "int64", [4])]), "int64"),
}

const results: Record<string, Record<string, string>> = {}
for (const opset of [17, 18, 21]) {
  for (const [name, probe] of Object.entries(probes)) {
    const g = new GraphBuilder(`probe_${opset}`, opset)
    let verdict = "ok"
    try {
      probe(g)
      const s = await ort.InferenceSession.create(g.toBytes(), {
        executionProviders: [provider],
        extra: { session: { disable_cpu_ep_fallback: provider === "cpu" ? "0" : "1" } },
        logSeverityLevel: 3,
      })
      await s.release()
    } catch (error) {
      verdict = `FAIL: ${((error as Error).message ?? String(error)).split("\n")[0]!.slice(0, 160)}`
    }
    results[name] = { ...(results[name] ?? {}), [`opset${opset}`]: verdict }
  }
}
for (const [name, r] of Object.entries(results))
  console.log(
    `${name.padEnd(34)} ${Object.entries(r)
      .map(([k, v]) => `${k}: ${v.startsWith("ok") ? "ok" : "FAIL"}`)
      .join("  ")}`,
  )

// The whole step graph of the tiny model (same operators as the real one): does it create with
// the fallback disabled? With verbose session logs, onnxruntime lists the nodes it placed on the CPU.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diagnose-"))
const tiny = BENCH_MODELS.tiny.lm
const checkpoint = path.join(dir, "lm.safetensors")
writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(tiny))
const steps: Record<string, string> = {}
for (const precision of ["int8", "float16"] as const) {
  const w = await convertWeights({
    checkpoint,
    config: tiny,
    precision,
    depformerSteps: 8,
    outDir: dir,
    workers: 0,
  })
  for (const opset of [18, 21])
    for (const sampling of ["topk", "argmax"] as const) {
      const model = path.join(dir, `step-${precision}-${opset}-${sampling}.onnx`)
      buildStepGraph(tiny, {
        context: 16,
        sampling,
        opset,
        layout: w.layout,
        weightsFile: w.weightsFile,
      }).save(model)
      const key = `${precision} opset ${opset} ${sampling}`
      try {
        const s = await ort.InferenceSession.create(model, {
          executionProviders: [provider],
          extra: { session: { disable_cpu_ep_fallback: provider === "cpu" ? "0" : "1" } },
        })
        await s.release()
        steps[key] = "ok"
      } catch (error) {
        steps[key] = `FAIL: ${((error as Error).message ?? "").slice(0, 200)}`
        if (process.env.DIAGNOSE_VERBOSE) {
          console.error(`--- placements of ${key}`)
          const s = await ort.InferenceSession.create(model, {
            executionProviders: [provider],
            logSeverityLevel: 0,
            logVerbosityLevel: 0,
          })
          await s.release()
          console.error(`--- end of ${key}`)
        }
      }
      console.log(`step graph ${key}: ${steps[key]}`)
    }
}
fs.rmSync(dir, { recursive: true, force: true })
fs.writeFileSync(out, JSON.stringify({ provider, operators: results, stepGraph: steps }, null, 2))
