// transformers.js brings its own dependency on onnxruntime-node: it must resolve to the project's copy,
// or two different native onnxruntime libraries would share the process (microsoft/onnxruntime#24096:
// transformers.js 3.4 beside onnxruntime-node 1.21 aborted in OrtEnv::Release).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GraphBuilder, OrtSession } from "@personaplex/runtime"
import { Effect, Layer } from "effect"
import { afterAll, expect, it } from "vitest"
import { Transcriber, writeTinyMoonshine } from "../src/index.ts"
import { twoUtterances } from "./support.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "transcriber-ort-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const onnxruntimeLibraries = () =>
  new Set(
    fs
      .readFileSync("/proc/self/maps", "utf8")
      .split("\n")
      .map((line) => line.split(/\s+/)[5] ?? "")
      .filter((file) => /libonnxruntime\.so/.test(file))
      .map((file) => fs.realpathSync(file)),
  )

it.skipIf(process.platform !== "linux")(
  "the recognizer and the project's sessions run on one libonnxruntime.so",
  async () => {
    const { folder } = writeTinyMoonshine(path.join(dir, "tiny"))
    const g = new GraphBuilder("identity")
    g.output(g.op("Identity", [g.input("x", "float32", [1])]), "y", "float32", [1])
    const libraries = await Effect.runPromise(
      Effect.gen(function* () {
        const ort = yield* OrtSession
        const session = yield* ort.open({ model: g.toBytes() })
        yield* session.run({ x: { type: "float32", dims: [1], data: new Float32Array([1]) } })
        const t = yield* Transcriber
        for (const frame of twoUtterances()) yield* t.hear(frame)
        expect((yield* t.flush).length).toBe(2)
        return onnxruntimeLibraries()
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(OrtSession.layerCpu, Transcriber.layer({ source: { folder } }))),
      ),
    )
    expect([...libraries]).toHaveLength(1)
    expect([...libraries][0]).toContain("onnxruntime-node@1.30.0")
  },
)
