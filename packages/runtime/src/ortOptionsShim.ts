/**
 * The native shim (`native/ortOptionsShim.cc`) that passes on what onnxruntime-node 1.30's binding
 * drops: extra WebGPU provider options (`enableGraphCapture`) and run-config entries (`gpu_graph_id`).
 * Loaded by the worker, after onnxruntime-node (the shim patches the library that the binding loaded).
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

interface NativeShim {
  install(library: string): string
  setWebGpuProviderOptions(entries: ReadonlyArray<readonly [string, string]>): void
}

const require = createRequire(import.meta.url)
let loaded: NativeShim | Error | undefined

const load = (): NativeShim | Error => {
  const file = fileURLToPath(new URL("../native/build/ortOptionsShim.node", import.meta.url))
  try {
    const shim = require(file) as NativeShim
    const ortRoot = path.dirname(require.resolve("onnxruntime-node/package.json"))
    shim.install(path.join(ortRoot, "bin", "napi-v6", process.platform, process.arch, "libonnxruntime.so.1"))
    return shim
  } catch (error) {
    return new Error(
      `WebGPU graph capture needs the onnxruntime options shim (${file}; built by \`node scripts/build-native.mjs\` in @personaplex/runtime, which needs g++): ${(error as Error).message}`,
    )
  }
}

const shim = (): NativeShim => {
  loaded ??= load()
  if (loaded instanceof Error) throw loaded
  return loaded
}

/** Run `create` with `options` added to every WebGPU provider it appends (on this thread). */
export const withWebGpuProviderOptions = async <A>(
  options: ReadonlyArray<readonly [string, string]>,
  create: () => Promise<A>,
): Promise<A> => {
  const native = shim()
  native.setWebGpuProviderOptions(options)
  try {
    // The providers are appended during this call; the worker creates one session at a time.
    return await create()
  } finally {
    native.setWebGpuProviderOptions([])
  }
}

/**
 * Run options whose tag the shim turns into run-config entries: `gpu_graph_id=-1` runs a
 * graph-capture session node by node, outside its captured graph.
 */
export const runConfig = (entries: Readonly<Record<string, string>>): { tag: string } => {
  shim()
  return {
    tag: `run-config:${Object.entries(entries)
      .map(([key, value]) => `${key}=${value}`)
      .join(";")}`,
  }
}
