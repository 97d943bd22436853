// Which WebGPU execution-provider options onnxruntime-node 1.30 passes on. Each option is given a bogus
// value two ways: in the provider object (`{ name: "webgpu", [option]: ... }`), where the binding
// rejects options it does not know, and as a session config entry (`extra`), which the provider never
// reads (no parse error even for invalid values): the binding appends the provider, whose factory
// reads its settings from the session config right then, before it adds the `extra` entries. So
// neither `enableGraphCapture` nor `maxNumPendingDispatches` can be set through the binding itself
// (the runtime's native shim adds `enableGraphCapture` behind its back: `webGpu.graphCapture`).
// Runs on any WebGPU adapter (seen with Mesa 25 lavapipe and XDG_RUNTIME_DIR set):
//   node webgpu-ep-options-probe.mjs
import { GraphBuilder } from "@personaplex/runtime"
import * as ort from "onnxruntime-node"

const g = new GraphBuilder("probe", 18)
g.output(g.op("Neg", [g.input("x", "float32", [1])]), "y", "float32", [1])
const model = g.toBytes()
const outcome = async (options) => {
  try {
    await (await ort.InferenceSession.create(model, options)).release()
    return "accepted (not read)"
  } catch (error) {
    return error.message.includes("unrecognized option")
      ? "rejected: unknown to the binding"
      : "read (invalid value refused)"
  }
}
for (const option of [
  "enableGraphCapture",
  "maxNumPendingDispatches",
  "preferredLayout",
  "validationMode",
  "storageBufferCacheMode",
]) {
  const inObject = await outcome({ executionProviders: [{ name: "webgpu", [option]: "bogus" }] })
  const inConfig = await outcome({
    executionProviders: ["webgpu"],
    extra: { [`ep.webgpuexecutionprovider.${option}`]: "bogus" },
  })
  console.log(`${option.padEnd(24)} provider object: ${inObject.padEnd(34)} session config: ${inConfig}`)
}
