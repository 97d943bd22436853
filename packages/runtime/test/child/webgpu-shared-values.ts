// Run by shared-values.test.ts in its own process (a native crash must fail the test, not the
// runner): the shared-value checks on WebGPU, graph-captured when the first argument is "capture".
import { Effect } from "effect"
import { OrtSession } from "../../src/index.ts"
import { sharedValuesProgram } from "../sharedValuesProgram.ts"

const capture = process.argv[2] === "capture"
const lines = await Effect.runPromise(
  sharedValuesProgram({
    disableCpuFallback: true,
    ...(capture ? { webGpu: { graphCapture: true } } : {}),
  }).pipe(Effect.scoped, Effect.provide(OrtSession.layer({ executionProviders: ["webgpu"] }))),
)
for (const line of lines) console.log(line)
console.log("closed")
