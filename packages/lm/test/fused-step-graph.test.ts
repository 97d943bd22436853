import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GraphBuilder, OrtSession, type OrtTensor } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  buildStepGraph,
  type ConvertedWeights,
  cacheLengthInputs,
  convertWeights,
  type GpuLmOptions,
  type GpuLmStep,
  LmConfig,
  lmCheckpointTensors,
  MoshiLm,
  openGpuLm,
  parameterCount,
  StepIo,
  tinyLmConfig,
  tokenInputs,
  writeRandomLmCheckpoint,
} from "../src/index.ts"

const config = tinyLmConfig
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fused-step-"))
const checkpoint = path.join(dir, "lm.safetensors")
let float16: ConvertedWeights
let int8: ConvertedWeights

beforeAll(async () => {
  writeRandomLmCheckpoint(checkpoint, lmCheckpointTensors(config))
  float16 = await convertWeights({
    checkpoint,
    config,
    precision: "float16",
    depformerSteps: 8,
    outDir: dir,
    workers: 0,
  })
  int8 = await convertWeights({
    checkpoint,
    config,
    precision: "int8",
    depformerSteps: 8,
    outDir: dir,
    workers: 1,
  })
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const rows = (n: number, seed: number) =>
  Array.from({ length: n }, (_, t) =>
    Int32Array.from({ length: 17 }, (_, k) =>
      k === 0
        ? (seed * 31 + t * 7) % config.textCard
        : k === 5 && t % 3 === 0
          ? -1
          : (seed * 13 + t * 101 + k * 17) % config.card,
    ),
  )

/** The GPU LM on the CPU provider with greedy sampling, over converted weights. */
const openOnCpu = (
  weights: ConvertedWeights,
  options: Omit<GpuLmOptions, "config" | "layout" | "weightsFile" | "provider">,
) =>
  openGpuLm({
    config,
    layout: weights.layout,
    weightsFile: weights.weightsFile,
    provider: "cpu",
    ...options,
  })

const run = <A, E>(effect: Effect.Effect<A, E, OrtSession | Scope.Scope>) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(OrtSession.layerCpu)))

const relativeError = (a: Float32Array, b: Float32Array) => {
  let diff = 0
  let scale = 0
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    scale = Math.max(scale, Math.abs(b[i]!))
  }
  return diff / scale
}

describe("the GPU step graph (run on the CPU provider)", () => {
  it("lists the real LM's 8,371,408,896 parameters in upstream names", () => {
    const shapes = lmCheckpointTensors(LmConfig.personaplex)
    expect(parameterCount(shapes)).toBe(8_371_408_896)
    expect(shapes.find((t) => t.name === "transformer.layers.31.gating.linear_in.weight")!.shape).toEqual([
      22528, 4096,
    ])
  })

  it.each([
    ["mha", true, 8, "float16"],
    ["matmul", false, 8, "float16"],
    ["gqa", true, 14, "float16"],
    ["gqa", true, 14, "float32"],
  ] as const)(
    "gives the reference LM's text logits (float16 weights, %s attention, fused ops %s, context %d: the rings past their wrap, %s KV)",
    async (attention, fusedOps, context, kvCache) => {
      const input = rows(14, 1)
      const [ours, reference] = await run(
        Effect.gen(function* () {
          const lm = yield* openOnCpu(float16, {
            context,
            outputLogits: true,
            attention: [attention],
            fusedOps: [fusedOps],
            kvCache,
          })
          expect(lm.opened.attention).toBe(attention)
          expect(lm.opened.kvCache).toBe(kvCache)
          expect(lm.opened.fusedOps).toBe(fusedOps)
          const moshi = yield* MoshiLm.make({ checkpoint, config, context, weightStorage: "inline" })
          const ours: Float32Array[] = []
          const reference: Float32Array[] = []
          const text = { temperature: 1, topK: 1, noise: new Float32Array(config.textCard) }
          for (const row of input) {
            ours.push((yield* lm.step(row)).textLogits!)
            reference.push((yield* moshi.temporal({ tokens: row, text, returnLogits: true })).textLogits!)
          }
          return [ours, reference] as const
        }),
      )
      const errors = input.map((_, t) => relativeError(ours[t]!, reference[t]!))
      console.log(
        `text logits (${attention} attention, fused ops ${fusedOps}, ${kvCache} KV) vs MoshiLm, relative error per step: ${errors.map((e) => e.toExponential(1)).join(" ")}`,
      )
      for (const e of errors) expect(e).toBeLessThan(2e-3)
    },
  )

  it.each([
    ["mha", "float16"],
    ["gqa", "float16"],
    ["gqa", "float32"],
  ] as const)(
    "samples the reference LM's greedy text and depformer audio tokens (%s attention, %s KV)",
    async (attention, kvCache) => {
      const input = rows(6, 7)
      const [ours, reference] = await run(
        Effect.gen(function* () {
          const lm = yield* openOnCpu(float16, {
            context: 16,
            attention: [attention],
            kvCache,
          })
          const moshi = yield* MoshiLm.make({ checkpoint, config, context: 16, weightStorage: "inline" })
          const greedy = (vocab: number, rows: number) => ({
            temperature: 1,
            topK: 1,
            noise: new Float32Array(vocab * rows),
          })
          const ours: string[] = []
          const reference: string[] = []
          for (const row of input) {
            const step = yield* lm.step(row)
            ours.push(`${step.textToken}:${[...step.audioTokens].join(",")}`)
            const t = yield* moshi.temporal({ tokens: row, text: greedy(config.textCard, 1) })
            const d = yield* moshi.depformer({
              hidden: t.hidden,
              text: t.textToken,
              forced: new Int32Array(8),
              forcedMask: new Uint8Array(8),
              audio: greedy(config.card, 8),
            })
            reference.push(`${t.textToken}:${[...d.tokens].join(",")}`)
          }
          return [ours, reference]
        }),
      )
      expect(new Set(ours).size).toBe(input.length)
      expect(ours).toEqual(reference)
    },
  )

  it.each(["mha", "gqa"] as const)(
    "prefills known rows in one run to the same state as single steps (%s), leaving the caller's extra embeddings intact",
    async (attention) => {
      const input = rows(12, 2)
      const next = rows(1, 3)[0]!
      const extra = Float32Array.from({ length: 12 * config.dim }, (_, i) => Math.sin(i) * 0.1)
      const before = extra.slice()
      const [batched, stepped] = await run(
        Effect.gen(function* () {
          const open = () =>
            openOnCpu(int8, {
              context: 32,
              outputLogits: true,
              attention: [attention],
            })
          const a = yield* open()
          const b = yield* open()
          yield* a.prefill(input, extra)
          for (const [t, row] of input.entries())
            yield* b.step(row, extra.subarray(t * config.dim, (t + 1) * config.dim))
          expect(a.position()).toBe(12)
          return [(yield* a.step(next)).textLogits!, (yield* b.step(next)).textLogits!] as const
        }),
      )
      expect(relativeError(batched, stepped)).toBeLessThan(1e-4)
      expect(extra).toEqual(before)
    },
  )

  it.each(["mha", "gqa"] as const)("restores the state remembered by a snapshot (%s)", async (attention) => {
    const input = rows(5, 4)
    const [first, again, other] = await run(
      Effect.gen(function* () {
        const lm = yield* openOnCpu(int8, {
          context: 16,
          outputLogits: true,
          attention: [attention],
        })
        yield* lm.prefill(input)
        yield* lm.snapshot("voice")
        const first = (yield* lm.step(input[0]!)).textLogits!
        yield* lm.step(input[1]!)
        const other = (yield* lm.step(input[0]!)).textLogits!
        yield* lm.restore("voice")
        expect(lm.position()).toBe(5)
        const again = (yield* lm.step(input[0]!)).textLogits!
        return [first, again, other] as const
      }),
    )
    expect(Array.from(again)).toEqual(Array.from(first))
    expect(relativeError(other, first)).toBeGreaterThan(1e-3)
  })

  it("a batched step's linears take every session's rows as one M, the weights read once a run for all", () => {
    type Node = { opType?: string; input?: string[]; output?: string[] }
    const graph = (batch: number) =>
      buildStepGraph(config, {
        context: 16,
        sampling: "topk",
        attention: "gqa",
        kvCache: "float16",
        layout: int8.layout,
        weightsFile: int8.weightsFile,
        batch,
      }) as unknown as { nodes: Node[]; inline: Map<string, { data: ArrayLike<number | bigint> }> }
    const g = graph(4)
    const producer = new Map(g.nodes.flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)))
    const linears = g.nodes.filter((n) => n.opType === "MatMulNBits")
    expect(linears.length).toBeGreaterThan(0)
    for (const node of linears) {
      const reshape = producer.get(node.input![0]!)
      expect(reshape?.opType).toBe("Reshape")
      const shape = Array.from(g.inline.get(reshape!.input![1]!)!.data, Number)
      expect(shape.slice(0, 2)).toEqual([1, -1])
    }
    // One session: the activations are [1, T, K] already.
    const single = graph(1)
    const singleProducer = new Map(single.nodes.flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)))
    expect(
      single.nodes
        .filter((n) => n.opType === "MatMulNBits")
        .some((n) => singleProducer.get(n.input![0]!)?.opType === "Reshape"),
    ).toBe(false)
  })

  it("samples among the top k only: noise lifts a token inside them, never one outside", async () => {
    const context = 4
    const model = path.join(dir, "topk.onnx")
    buildStepGraph(config, {
      context,
      sampling: "topk",
      attention: "gqa",
      kvCache: "float32",
      outputLogits: true,
      layout: int8.layout,
      weightsFile: int8.weightsFile,
    }).save(model)
    const f32 = (dims: number[]): OrtTensor => ({
      type: "float32",
      dims,
      data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
    })
    const cache = [1, config.numHeads, context, config.dim / config.numHeads]
    const depformerCache = [1, config.depformerNumHeads, 8, config.depformerDim / config.depformerNumHeads]
    const k = 5
    const feeds = (textNoise: Float32Array) => ({
      ...tokenInputs(config, rows(1, 9)),
      ...cacheLengthInputs(0, 1),
      ...Object.fromEntries(
        Array.from({ length: config.numLayers }, (_, l) => [
          [StepIo.keys(l), f32(cache)],
          [StepIo.values(l), f32(cache)],
        ]).flat(),
      ),
      ...Object.fromEntries(
        Array.from({ length: config.depformerNumLayers }, (_, l) => [
          [StepIo.depformerKeys(l), f32(depformerCache)],
          [StepIo.depformerValues(l), f32(depformerCache)],
        ]).flat(),
      ),
      [StepIo.extra]: f32([1, 1, config.dim]),
      [StepIo.textNoise]: { type: "float32" as const, dims: [config.textCard], data: textNoise },
      [StepIo.audioNoise]: f32([8, config.card]),
      [StepIo.textTopK]: { type: "int64" as const, dims: [1], data: BigInt64Array.of(BigInt(k)) },
      [StepIo.audioTopK]: { type: "int64" as const, dims: [1], data: BigInt64Array.of(250n) },
    })
    const [order, picked] = await run(
      Effect.gen(function* () {
        const session = yield* (yield* OrtSession).open({ model })
        const sample = (noise: Float32Array) =>
          Effect.map(session.run(feeds(noise), [StepIo.tokens, StepIo.textLogits]), (out) => ({
            token: (out[StepIo.tokens]!.data as Float32Array)[0]!,
            logits: out[StepIo.textLogits]!.data as Float32Array,
          }))
        const { logits } = yield* sample(new Float32Array(config.textCard))
        const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!)
        const lifted = (token: number) => {
          const noise = new Float32Array(config.textCard)
          noise[token] = 1e3
          return Effect.map(sample(noise), (s) => s.token)
        }
        // The k-th largest logit can be lifted to win; the (k+1)-th stays out of reach.
        return [order, [yield* lifted(order[k - 1]!), yield* lifted(order[k]!)]] as const
      }),
    )
    expect(picked).toEqual([order[k - 1], order[0]])
  })

  it("says when the linear cache is full, and forgets snapshots that restored frames overwrite", async () => {
    const input = rows(6, 5)
    const errors = await run(
      Effect.gen(function* () {
        const lm = yield* openOnCpu(int8, {
          context: 6,
          attention: ["gqa"],
        })
        expect(lm.capacity).toBe(6)
        yield* lm.prefill(input.slice(0, 2))
        yield* lm.snapshot("voice")
        yield* lm.prefill(input.slice(2, 5))
        yield* lm.snapshot("text")
        const full = yield* Effect.flip(lm.prefill(input.slice(0, 2)))
        expect(lm.position()).toBe(5)
        yield* lm.step(input[5]!)
        const stepFull = yield* Effect.flip(lm.step(input[0]!))
        yield* lm.restore("voice")
        expect(lm.position()).toBe(2)
        const gone = yield* Effect.flip(lm.restore("text"))
        yield* lm.restore("voice")
        return [full, stepFull, gone]
      }),
    )
    expect(errors.map((e) => e._tag)).toEqual(["GpuLmContextFull", "GpuLmContextFull", "GpuLmNoSnapshot"])
    expect(errors[0]!.message).toBe(
      "the KV cache holds 6 frames: 2 more at position 5 do not fit (reset or restore a snapshot first)",
    )
    expect(errors[2]!.message).toContain('no snapshot "text"')
  })

  it("with shared codes, stepShared embeds the user codes in the buffer and leaves the agent's codes in one", async () => {
    const input = rows(4, 9).map((row) => row.map((v) => Math.max(v, 0)))
    const sharedCodes = { pool: "frame", user: "user-codes", agent: "agent-codes" }
    // A codec's two ends in miniature: one session writes the user buffer, one reads the agent buffer.
    const codesSession = (direction: "in" | "out") => {
      const g = new GraphBuilder(`codes-${direction}`)
      const codes = g.input("codes", "int32", [8])
      g.output(g.op("Max", [codes, codes]), "copied", "int32", [8])
      const value = direction === "in" ? "copied" : "codes"
      const buffer = direction === "in" ? sharedCodes.user : sharedCodes.agent
      return {
        model: g.toBytes(),
        shared: [{ name: value, pool: "frame", buffer, type: "int32" as const, dims: [8] }],
      }
    }
    const [shared, plain, agentBuffers, refused] = await run(
      Effect.gen(function* () {
        const ort = yield* OrtSession
        const open = (withShared: boolean) =>
          openOnCpu(int8, {
            context: 8,
            attention: ["gqa"],
            outputLogits: true,
            ...(withShared ? { sharedCodes } : {}),
          })
        const a = yield* open(true)
        const b = yield* open(false)
        const writeUser = yield* ort.open(codesSession("in"))
        const readAgent = yield* ort.open(codesSession("out"))
        const shared: GpuLmStep[] = []
        const plain: GpuLmStep[] = []
        const agentBuffers: Int32Array[] = []
        yield* a.prefill(input.slice(0, 1))
        yield* b.prefill(input.slice(0, 1))
        for (const row of input.slice(1)) {
          yield* writeUser.run({ codes: { type: "int32", dims: [8], data: row.slice(9) } }, [])
          shared.push(yield* a.stepShared(row.subarray(0, 9)))
          agentBuffers.push((yield* readAgent.run({})).copied!.data as Int32Array)
          plain.push(yield* b.step(row))
        }
        return [shared, plain, agentBuffers, yield* Effect.flip(b.stepShared(input[0]!))] as const
      }),
    )
    const tokens = (steps: ReadonlyArray<GpuLmStep>) =>
      steps.map((s) => `${s.textToken}:${[...s.audioTokens].join(",")}`)
    expect(tokens(shared)).toEqual(tokens(plain))
    for (const [t, step] of shared.entries()) {
      expect(relativeError(step.textLogits!, plain[t]!.textLogits!)).toBeLessThan(1e-5)
      expect([...agentBuffers[t]!]).toEqual([...step.audioTokens.subarray(0, 8)])
    }
    expect(refused._tag).toBe("GpuLmNoSharedCodes")
  })
})
