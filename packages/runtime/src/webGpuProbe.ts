import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { GraphBuilder } from "./onnx/GraphBuilder.ts"

/**
 * Why this machine cannot run onnxruntime's WebGPU provider, or `undefined` where it can: one
 * tiny session is created and run in a child process, since a missing or broken Vulkan driver can
 * crash the native code instead of throwing.
 */
export const webGpuUnavailable = (): string | undefined => {
  const g = new GraphBuilder("webgpu-probe")
  g.output(g.op("Neg", [g.input("x", "float32", [1])]), "y", "float32", [1])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "webgpu-probe-"))
  const model = path.join(dir, "probe.onnx")
  fs.writeFileSync(model, g.toBytes())
  const ortEntry = pathToFileURL(createRequire(import.meta.url).resolve("onnxruntime-node")).href
  const script = `
    const ort = await import(${JSON.stringify(ortEntry)})
    const session = await ort.InferenceSession.create(${JSON.stringify(model)}, { executionProviders: ["webgpu"] })
    const { y } = await session.run({ x: new ort.Tensor("float32", Float32Array.of(2), [1]) })
    if (y.data[0] !== -2) throw new Error("WebGPU computed -x wrong: " + y.data[0])
    await session.release()`
  const child = runNodeIsolated(["--input-type=module", "-e", script], 60_000)
  fs.rmSync(dir, { recursive: true, force: true })
  if (child.status === 0) return undefined
  const lines = child.stderrTail.split("\n").map((line) => line.trim())
  const said =
    lines.findLast((line) => line.includes("Error")) ?? lines.findLast((line) => line.length > 0) ?? ""
  return child.signal
    ? `the probe process died (${child.signal}) ${said}`
    : said || `exit status ${child.status}`
}

/** How a Node process run by `runNodeIsolated` ended, and what it printed. */
export interface IsolatedRun {
  readonly signal: NodeJS.Signals | null
  readonly status: number | null
  /** The last 2,000 characters of its standard error. */
  readonly stderrTail: string
  /** Its standard output's non-empty lines. */
  readonly lines: ReadonlyArray<string>
}

/**
 * Node with `args` in a process of its own, for GPU work: a crash in a provider's native code then
 * ends that process, which the caller sees as a signal or status, instead of killing the caller.
 * `XDG_RUNTIME_DIR` is set (Vulkan loaders want one) unless the environment has it.
 */
export const runNodeIsolated = (args: ReadonlyArray<string>, timeoutMs: number): IsolatedRun => {
  const child = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    env: { XDG_RUNTIME_DIR: os.tmpdir(), ...process.env },
  })
  return {
    signal: child.signal,
    status: child.status,
    stderrTail: child.stderr.slice(-2000),
    lines: child.stdout.split("\n").filter((line) => line.length > 0),
  }
}
