// Run by fused-webgpu.test.ts in its own process, so that a crash in onnxruntime's native code fails that
// test instead of killing the test runner. The tiny LM's `gqa` step graph on WebGPU and on the CPU
// provider, same tokens: prints the largest relative text-logit difference, whether the greedy text
// and depformer tokens are the same, then "closed" once every session and resident buffer is released. Arguments: the KV cache's element type, then
// "capture" to replay the WebGPU steps from a captured graph. A live prefill comes before the steps.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type ExecutionProvider, OrtSession } from "@personaplex/runtime"
import { Effect } from "effect"
import {
  convertWeights,
  type KvCacheType,
  lmCheckpointTensors,
  openGpuLm,
  tinyLmConfig,
  writeRandomLmCheckpoint,
} from "../../src/index.ts"

const kvCache = (process.argv[2] ?? "float16") as KvCacheType
const graphCapture = process.argv[3] === "capture"
const config = tinyLmConfig
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-webgpu-"))
const checkpoint = path.join(dir, "lm.safetensors")
writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(config))
const weights = await convertWeights({
  checkpoint,
  config,
  precision: "int8",
  depformerSteps: 8,
  outDir: dir,
  workers: 0,
})

const steps = (provider: ExecutionProvider) =>
  Effect.gen(function* () {
    const lm = yield* openGpuLm({
      config,
      layout: weights.layout,
      weightsFile: weights.weightsFile,
      provider,
      context: 32,
      attention: ["gqa"],
      kvCache,
      allowCpuFallback: false,
      outputLogits: true,
      graphCapture,
    })
    if (graphCapture && provider === "webgpu" && !lm.opened.graphCapture)
      throw new Error("graph capture is off")
    const row = (t: number) => Int32Array.from({ length: 17 }, (_, k) => (t * 37 + k * 11) % config.card)
    yield* lm.prefill([row(6), row(7), row(8)])
    const logits: Float32Array[] = []
    const tokens: string[] = []
    for (let t = 0; t < 6; t++) {
      const step = yield* lm.step(row(t))
      logits.push(step.textLogits!)
      tokens.push(`${step.textToken}:${[...step.audioTokens].join(",")}`)
    }
    return { logits, tokens }
  }).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: [provider] })))

const onGpu = await Effect.runPromise(steps("webgpu"))
const onCpu = await Effect.runPromise(steps("cpu"))
let worst = 0
for (const [t, cpu] of onCpu.logits.entries()) {
  const gpu = onGpu.logits[t]!
  let diff = 0
  let scale = 0
  for (let i = 0; i < cpu.length; i++) {
    diff = Math.max(diff, Math.abs(gpu[i]! - cpu[i]!))
    scale = Math.max(scale, Math.abs(cpu[i]!))
  }
  worst = Math.max(worst, diff / scale)
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(`max relative text-logit difference: ${worst}`)
console.log(`same tokens: ${onGpu.tokens.join(" ") === onCpu.tokens.join(" ")} (${onCpu.tokens.join(" ")})`)
console.log("closed")
