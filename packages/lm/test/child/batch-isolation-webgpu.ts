// Run by batched-sessions-keep-their-own-tokens.test.ts in its own process (a crash in onnxruntime's
// native code then fails that test instead of the runner): the isolation scenario on WebGPU, one
// session alone (LmGen on the fused engine) and inside a batch, on the tiny random checkpoint. Prints
// one JSON line (both sessions' tokens, the malformed input's error, the batch's run counts), then "closed".
// Arguments: the checkpoint file, the KV cache's type, the batch's sessions, "sampled" or "greedy", and
// the checkpoint's text vocabulary (the tiny architecture's otherwise).
import { tinyLmConfig } from "../../src/testing.ts"
import { alone, inBatch } from "../support/batchIsolation.ts"

const [checkpoint, kvCache, sessions, mode] = process.argv.slice(2) as [
  string,
  "float16" | "float32",
  string,
  string,
]
const sampling = mode === "greedy" ? { useSampling: false, seed: 3 } : { seed: 3 }
const textCard = process.argv[6] === undefined ? tinyLmConfig.textCard : Number(process.argv[6])
const model = { checkpoint, config: { ...tinyLmConfig, textCard }, sampling, kvCache }
const solo = await alone(model, "webgpu")
const batched = await inBatch(model, Number(sessions), "webgpu", { a: 3, b: 4 })
console.log(JSON.stringify({ solo, ...batched }))
console.log("closed")
