import { Effect, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { GraphBuilder, OrtSession } from "../src/index.ts"
import { oneLineReason } from "../src/webGpuProbe.ts"

// No Vulkan driver for this test's processes (the probe's child inherits it): WebGPU has no adapter.
process.env.VK_ICD_FILENAMES = "/nonexistent/icd.json"
process.env.VK_DRIVER_FILES = "/nonexistent/icd.json"

const warningsInto = (into: Array<string>) =>
  Logger.layer([
    Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") into.push((Array.isArray(message) ? message : [message]).join(" "))
    }),
  ])

describe("WebGPU requested where there is no adapter", () => {
  it("is one warning line (requested, used, onnxruntime's reason) and sessions on the CPU", async () => {
    const g = new GraphBuilder("id")
    g.output(g.op("Relu", [g.input("x", "float32", [2])]), "y", "float32")
    const warnings: Array<string> = []
    const opened = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const ort = yield* OrtSession
          const first = yield* ort.open({ model: g.toBytes() })
          const second = yield* ort.open({ model: g.toBytes() })
          const out = yield* second.run({
            x: { type: "float32", dims: [2], data: Float32Array.from([-1, 2]) },
          })
          expect([...(out.y!.data as Float32Array)]).toEqual([0, 2])
          return { layer: ort.config.executionProviders, sessions: [first.provider, second.provider] }
        }),
      ).pipe(
        Effect.provide(OrtSession.layer({ executionProviders: ["webgpu", "cpu"] })),
        Effect.provide(warningsInto(warnings)),
      ),
    )
    expect(opened).toEqual({ layer: ["cpu"], sessions: ["cpu", "cpu"] })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^onnxruntime: webgpu requested, using cpu: \S/)
    expect(warnings[0]).not.toContain("\n")
    expect(warnings[0]).not.toMatch(/onnxruntime_src|\.cc:\d+|was false/)
  })
})

describe("oneLineReason", () => {
  it("keeps what onnxruntime says after its source location and failed assertion", () => {
    const native =
      "/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n"
    expect(oneLineReason(native)).toBe("Failed to get a WebGPU adapter: No supported adapters")
    expect(oneLineReason("/onnxruntime_src/x/y.cc:12 onnxruntime::f() bad thing\nmore")).toBe("bad thing")
    expect(oneLineReason("plain reason\nsecond line")).toBe("plain reason")
  })
})
