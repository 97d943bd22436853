import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { OrtSession, runNodeIsolated, webGpuUnavailable } from "../src/index.ts"
import { expectedSharedValuesLines, sharedValuesProgram } from "./sharedValuesProgram.ts"

describe("values shared between sessions through a resident pool", () => {
  it("hands one session's output to another's input; feeds copy in, fetches copy out (CPU)", async () => {
    const lines = await Effect.runPromise(
      sharedValuesProgram().pipe(Effect.scoped, Effect.provide(OrtSession.layerCpu)),
    )
    expect(lines).toEqual(expectedSharedValuesLines)
  })

  const noWebGpu = webGpuUnavailable()
  const shim = path.join(import.meta.dirname, "../native/build/ortOptionsShim.node")
  if (noWebGpu) console.log(`skipping the WebGPU shared-value tests: ${noWebGpu}`)
  /** Why the WebGPU case `mode` cannot run here, or `undefined` where it can. */
  const skip = (mode: string) =>
    noWebGpu !== undefined
      ? `no WebGPU adapter: ${noWebGpu.replace(/^.* was false\. /, "").slice(-80)}`
      : mode === "capture" && !fs.existsSync(shim)
        ? `no ${shim} (needs g++)`
        : undefined
  for (const mode of ["live", "capture"]) {
    const why = skip(mode)
    it.skipIf(why !== undefined)(
      `does the same on WebGPU (${mode})${why ? ` (skipped: ${why})` : ""}`,
      () => {
        const child = runNodeIsolated(
          [path.join(import.meta.dirname, "child/webgpu-shared-values.ts"), mode],
          60_000,
        )
        expect(child).toMatchObject({ signal: null, status: 0 })
        expect(child.lines).toEqual([...expectedSharedValuesLines, "closed"])
      },
    )
  }
})
