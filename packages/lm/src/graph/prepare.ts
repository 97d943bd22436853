import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoint, type GraphBuilder } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import { LmRuntimeError, LmWeightsError } from "../errors.ts"
import type { LmConfig } from "../LmConfig.ts"
import { buildDepformerGraph } from "./depformer.ts"
import type { Quantization } from "./quantize.ts"
import { buildTemporalGraph } from "./temporal.ts"
import { LmWeights, type WeightStorage } from "./weights.ts"

/** What shapes the two graphs. */
export interface GraphOptions {
  readonly checkpoint: string
  readonly context: number
  readonly quantization: Quantization
  readonly depformerSteps: 8 | 16
  readonly upstreamRingQuirk: boolean
  /** Undefined: external above 1 GiB of checkpoint. */
  readonly weightStorage: WeightStorage | undefined
}

/** A model onnxruntime can open: bytes, or a saved `.onnx` (with external data). */
export interface PreparedModel {
  readonly model: string | Uint8Array
  /**
   * Float linears read in place from the checkpoint: open without pre-packing so that onnxruntime
   * maps them instead of copying them. Quantized graphs keep pre-packing: without it the CPU's
   * `MatMulNBits` ignores `accuracy_level` and takes its slow f32 path (other numerics, too).
   */
  readonly mapped: boolean
}

/** Whether a graph's linears reference the checkpoint in place (see `PreparedModel.mapped`). */
const mapsCheckpoint = (storage: WeightStorage, quantization: Quantization) =>
  storage === "external" && quantization === "none"

export interface PreparedGraphs {
  readonly temporal: PreparedModel
  readonly depformer: PreparedModel
  readonly source: "built" | "cache"
}

const MAX_INLINE_BYTES = 1.8 * 2 ** 30
/** Checkpoints above this are referenced in place by default (`weightStorage: "external"`). */
const EXTERNAL_ABOVE_BYTES = 2 ** 30

/** Build the two graphs from the checkpoint (weights widened to f32 or quantized). */
const buildGraphs = (config: LmConfig, options: GraphOptions) =>
  Effect.gen(function* () {
    const checkpoint = yield* Checkpoint.open(options.checkpoint).pipe(
      Effect.mapError(
        (e) => new LmWeightsError({ checkpoint: options.checkpoint, tensor: "(file)", reason: e.message }),
      ),
    )
    return yield* Effect.try({
      try: () => {
        const checkpointBytes = checkpoint.names.reduce(
          (sum, name) => sum + checkpoint.infoSync(name).byteLength,
          0,
        )
        const storage =
          options.weightStorage ?? (checkpointBytes > EXTERNAL_ABOVE_BYTES ? "external" : "inline")
        const weights = new LmWeights(checkpoint, storage)
        const temporal = buildTemporalGraph(config, weights, options)
        const depformer = buildDepformerGraph(config, weights, { ...options, steps: options.depformerSteps })
        weights.clear()
        return { temporal, depformer, storage }
      },
      catch: (error) =>
        error instanceof LmWeightsError
          ? error
          : new LmRuntimeError({ stage: "build", reason: (error as Error).message ?? String(error) }),
    })
  }).pipe(Effect.scoped)

/** Bytes for small self-contained graphs; a saved model (external data, weights mapped by onnxruntime) otherwise. */
const modelSource = (
  g: GraphBuilder,
  storage: WeightStorage,
  quantization: Quantization,
  dir: () => string,
): Effect.Effect<PreparedModel, LmRuntimeError> =>
  Effect.try({
    try: () =>
      storage === "inline" && g.initializerBytes < MAX_INLINE_BYTES
        ? { model: g.toBytes() as string | Uint8Array, mapped: false }
        : {
            model: g.save(path.join(dir(), `${g.name}.onnx`)) as string | Uint8Array,
            mapped: mapsCheckpoint(storage, quantization),
          },
    catch: (error) =>
      new LmRuntimeError({
        stage: "build",
        reason: `${g.name}: ${(error as Error).message ?? String(error)}`,
      }),
  })

/** Bump when the graphs' inputs, outputs or numerics change: old cache entries are then ignored. */
const GRAPH_FORMAT = "moshi-lm-graphs-2"

export const checkpointStamp = (location: string) => {
  const resolved = path.resolve(location)
  const stat = fs.statSync(resolved)
  const files = stat.isDirectory()
    ? fs
        .readdirSync(resolved)
        .filter((f) => f.endsWith(".safetensors") || f.endsWith(".json"))
        .map((f) => path.join(resolved, f))
    : [resolved]
  if (!stat.isDirectory() && resolved.endsWith(".json"))
    for (const f of fs.readdirSync(path.dirname(resolved)))
      if (f.endsWith(".safetensors")) files.push(path.join(path.dirname(resolved), f))
  return files.sort().map((f) => {
    const s = fs.statSync(f)
    return [f, s.size, s.mtimeMs]
  })
}

/** Open the graphs from `cacheDir` when an entry with the same key is complete, else build and save them there. */
const cachedGraphs = (
  config: LmConfig,
  options: GraphOptions,
  cacheDir: string,
): Effect.Effect<PreparedGraphs, LmWeightsError | LmRuntimeError> =>
  Effect.gen(function* () {
    const key = yield* Effect.try({
      try: () => {
        const stamp = {
          format: GRAPH_FORMAT,
          config,
          ...options,
          weightStorage: options.weightStorage ?? "auto",
          files: checkpointStamp(options.checkpoint),
        }
        return createHash("sha256").update(JSON.stringify(stamp)).digest("hex").slice(0, 20)
      },
      catch: (error) =>
        new LmWeightsError({
          checkpoint: options.checkpoint,
          tensor: "(file)",
          reason: (error as Error).message,
        }),
    })
    const entry = path.join(cacheDir, `lm-${key}`)
    const marker = path.join(entry, "complete.json")
    const temporalPath = path.join(entry, "moshi_temporal.onnx")
    const depformerPath = path.join(entry, "moshi_depformer.onnx")
    if (fs.existsSync(marker)) {
      const { mapped } = JSON.parse(fs.readFileSync(marker, "utf8")) as { mapped: boolean }
      return {
        temporal: { model: temporalPath, mapped },
        depformer: { model: depformerPath, mapped },
        source: "cache" as const,
      }
    }
    const graphs = yield* buildGraphs(config, options)
    return yield* Effect.try({
      try: () => {
        fs.rmSync(entry, { recursive: true, force: true })
        fs.mkdirSync(entry, { recursive: true })
        graphs.temporal.save(temporalPath)
        graphs.depformer.save(depformerPath)
        const mapped = mapsCheckpoint(graphs.storage, options.quantization)
        fs.writeFileSync(
          marker,
          JSON.stringify({ mapped, checkpoint: options.checkpoint, created: new Date().toISOString() }),
        )
        return {
          temporal: { model: temporalPath, mapped },
          depformer: { model: depformerPath, mapped },
          source: "built" as const,
        }
      },
      catch: (error) =>
        new LmRuntimeError({
          stage: "build",
          reason: `saving graphs to ${entry}: ${(error as Error).message ?? String(error)}`,
        }),
    })
  })

/**
 * Build the temporal and depformer graphs from the checkpoint, or open them from `cacheDir`.
 * Graphs that cannot travel as bytes are saved under `graphDir` (default: a temp folder removed
 * when the scope closes).
 */
export const prepareGraphs = (
  config: LmConfig,
  options: GraphOptions,
  folders: { readonly cacheDir: string | undefined; readonly graphDir: string | undefined },
): Effect.Effect<PreparedGraphs, LmWeightsError | LmRuntimeError, Scope.Scope> =>
  Effect.gen(function* () {
    if (folders.cacheDir) return yield* cachedGraphs(config, options, folders.cacheDir)
    let tempDir: string | undefined
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => tempDir && fs.rmSync(tempDir, { recursive: true, force: true })),
    )
    const dir = () => {
      if (folders.graphDir) return folders.graphDir
      tempDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "personaplex-lm-"))
      return tempDir
    }
    const graphs = yield* buildGraphs(config, options)
    return {
      temporal: yield* modelSource(graphs.temporal, graphs.storage, options.quantization, dir),
      depformer: yield* modelSource(graphs.depformer, graphs.storage, options.quantization, dir),
      source: "built" as const,
    }
  })
