import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { GraphBuilder } from "./onnx/GraphBuilder.ts"

/** A tiny session created and run with the WebGPU provider, as a Node script (in `dir`, removed after). */
const probeScript = () => {
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
  return { dir, args: ["--input-type=module", "-e", script] }
}

/** What the probe's run says: `undefined` when WebGPU worked, else why not, in one line. */
const probeVerdict = (child: IsolatedRun): string | undefined => {
  if (child.status === 0) return undefined
  const lines = child.stderrTail.split("\n").map((line) => line.trim())
  const said =
    lines.findLast((line) => line.includes("Error")) ?? lines.findLast((line) => line.length > 0) ?? ""
  const reason = oneLineReason(said.replace(/^\w*Error: /, ""))
  return child.signal
    ? `the probe process died (${child.signal}) ${reason}`
    : reason || `exit status ${child.status}`
}

/**
 * Why this machine cannot run onnxruntime's WebGPU provider, or `undefined` where it can: one
 * tiny session is created and run in a child process, since a missing or broken Vulkan driver can
 * crash the native code instead of throwing (and its loader prints to the process's stderr).
 */
export const webGpuUnavailable = (): string | undefined => {
  const probe = probeScript()
  const child = runNodeIsolated(probe.args, PROBE_TIMEOUT_MS)
  fs.rmSync(probe.dir, { recursive: true, force: true })
  return probeVerdict(child)
}

let probed: Promise<string | undefined> | undefined

/** `webGpuUnavailable` without blocking the event loop, probed once per process. */
export const webGpuUnavailableOnce = (): Promise<string | undefined> => {
  probed ??= (async () => {
    const probe = probeScript()
    const child = await runNodeIsolatedAsync(probe.args, PROBE_TIMEOUT_MS)
    fs.rmSync(probe.dir, { recursive: true, force: true })
    return probeVerdict(child)
  })()
  return probed
}

const PROBE_TIMEOUT_MS = 60_000

/**
 * onnxruntime's reason for a failure in one line: its first line, without the source location,
 * function signature and failed assertion that its native errors begin with
 * (`/onnxruntime_src/….cc:136 onnxruntime::…::<lambda()> x == y was false. Failed to get a WebGPU adapter`).
 */
export const oneLineReason = (message: string): string => {
  const first =
    message
      .split("\n")
      .find((line) => line.trim().length > 0)
      ?.trim() ?? ""
  const afterAssertion = /\bwas false\.\s+(.*)$/.exec(first)
  if (afterAssertion) return afterAssertion[1]!
  return first.replace(/^\S+\.(cc|cpp|h):\d+\s+\S+\s+/, "")
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

/** `runNodeIsolated` without blocking the event loop. */
const runNodeIsolatedAsync = (args: ReadonlyArray<string>, timeoutMs: number): Promise<IsolatedRun> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { XDG_RUNTIME_DIR: os.tmpdir(), ...process.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000)
    })
    child.on("error", (error) => {
      stderr += error.message
    })
    child.on("close", (status, signal) =>
      resolve({
        signal,
        status,
        stderrTail: stderr.slice(-2000),
        lines: stdout.split("\n").filter((line) => line.length > 0),
      }),
    )
  })
