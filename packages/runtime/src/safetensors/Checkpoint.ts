import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { MissingTensorError, SafetensorsFormatError, TensorMismatchError } from "../errors.ts"
import { type TypedData, toInt32, viewAs } from "./decode.ts"
import { SafetensorsFile, type TensorInfo } from "./SafetensorsFile.ts"

export const SHARD_INDEX = "model.safetensors.index.json"

export interface Tensor<A extends TypedData = TypedData> {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly data: A
}

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.length === b.length && a.every((d, i) => d === b[i])

/**
 * A checkpoint: one `.safetensors` file, or several shards listed by a
 * `model.safetensors.index.json`. Headers are read when opened; tensor data only when asked for.
 */
export class Checkpoint {
  readonly source: string
  private readonly files: ReadonlyArray<SafetensorsFile>
  private readonly owner: ReadonlyMap<string, SafetensorsFile>

  private constructor(
    source: string,
    files: ReadonlyArray<SafetensorsFile>,
    owner: ReadonlyMap<string, SafetensorsFile>,
  ) {
    this.source = source
    this.files = files
    this.owner = owner
  }

  /** Open a file, a shard index, or a folder holding either; the files close with the scope. */
  static open(location: string): Effect.Effect<Checkpoint, SafetensorsFormatError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.try({
        try: () => Checkpoint.openSync(location),
        catch: (error) =>
          error instanceof SafetensorsFormatError
            ? error
            : new SafetensorsFormatError({ path: location, reason: String(error) }),
      }),
      (checkpoint) => Effect.sync(() => checkpoint.close()),
    )
  }

  /** Synchronous open for scripts; the caller must `close()`. Throws `SafetensorsFormatError`. */
  static openSync(location: string): Checkpoint {
    const resolved = resolveCheckpointFiles(location)
    const files: SafetensorsFile[] = []
    try {
      for (const file of resolved.files) files.push(SafetensorsFile.open(file))
    } catch (error) {
      for (const f of files) f.close()
      throw error
    }
    const owner = new Map<string, SafetensorsFile>()
    for (const file of files)
      for (const name of file.tensors.keys()) {
        const earlier = owner.get(name)
        if (earlier) {
          for (const f of files) f.close()
          throw new SafetensorsFormatError({
            path: resolved.source,
            reason: `tensor "${name}" is stored in both ${earlier.path} and ${file.path}`,
          })
        }
        owner.set(name, file)
      }
    if (resolved.weightMap) {
      for (const [name, file] of Object.entries(resolved.weightMap)) {
        const holder = owner.get(name)
        if (!holder || path.basename(holder.path) !== path.basename(file)) {
          for (const f of files) f.close()
          throw new SafetensorsFormatError({
            path: resolved.source,
            reason: `index maps "${name}" to ${file} but that shard does not hold it`,
          })
        }
      }
    }
    return new Checkpoint(resolved.source, files, owner)
  }

  get names(): ReadonlyArray<string> {
    return [...this.owner.keys()]
  }

  get metadata(): Readonly<Record<string, string>> {
    return Object.assign({}, ...this.files.map((f) => f.metadata))
  }

  has(name: string): boolean {
    return this.owner.has(name)
  }

  infoSync(name: string): TensorInfo {
    const file = this.owner.get(name)
    if (!file) throw new MissingTensorError({ tensor: name, path: this.source })
    return file.info(name)
  }

  info(name: string): Effect.Effect<TensorInfo, MissingTensorError> {
    return Effect.suspend(() => {
      const file = this.owner.get(name)
      return file
        ? Effect.succeed(file.info(name))
        : Effect.fail(new MissingTensorError({ tensor: name, path: this.source }))
    })
  }

  /** The tensor in its stored dtype (F16/BF16 as raw bits). */
  readSync(name: string): Tensor {
    const info = this.infoSync(name)
    return { name, shape: info.shape, data: viewAs(info.dtype, this.owner.get(name)!.readBytes(name)) }
  }

  /** The tensor widened to Float32, checking the shape when one is given. */
  float32Sync(name: string, shape?: ReadonlyArray<number>): Tensor<Float32Array> {
    const info = this.infoSync(name)
    if (shape && !sameShape(shape, info.shape))
      throw new TensorMismatchError({
        tensor: name,
        path: info.path,
        expected: `shape [${shape}]`,
        actual: `[${info.shape}]`,
      })
    return { name, shape: info.shape, data: this.owner.get(name)!.readFloat32(name) }
  }

  int32Sync(name: string): Tensor<Int32Array> {
    const info = this.infoSync(name)
    return { name, shape: info.shape, data: toInt32(info.dtype, this.owner.get(name)!.readBytes(name)) }
  }

  read(name: string): Effect.Effect<Tensor, MissingTensorError | SafetensorsFormatError> {
    return this.attempt(() => this.readSync(name))
  }

  float32(
    name: string,
    shape?: ReadonlyArray<number>,
  ): Effect.Effect<Tensor<Float32Array>, MissingTensorError | SafetensorsFormatError | TensorMismatchError> {
    return this.attempt(() => this.float32Sync(name, shape))
  }

  int32(name: string): Effect.Effect<Tensor<Int32Array>, MissingTensorError | SafetensorsFormatError> {
    return this.attempt(() => this.int32Sync(name))
  }

  close(): void {
    for (const file of this.files) file.close()
  }

  private attempt<A, E>(f: () => A): Effect.Effect<A, E> {
    return Effect.try({
      try: f,
      // Our tagged errors pass through; anything else (an I/O error from the disk) is named after the checkpoint.
      catch: (error) =>
        (error instanceof MissingTensorError ||
        error instanceof SafetensorsFormatError ||
        error instanceof TensorMismatchError
          ? error
          : new SafetensorsFormatError({ path: this.source, reason: `read failed: ${String(error)}` })) as E,
    })
  }
}

interface ResolvedFiles {
  readonly source: string
  readonly files: ReadonlyArray<string>
  readonly weightMap?: Record<string, string>
}

const resolveCheckpointFiles = (location: string): ResolvedFiles => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(location)
  } catch {
    throw new SafetensorsFormatError({ path: location, reason: "no such file or folder" })
  }
  if (stat.isDirectory()) {
    const index = path.join(location, SHARD_INDEX)
    if (fs.existsSync(index)) return resolveCheckpointFiles(index)
    const single = fs.readdirSync(location).filter((f) => f.endsWith(".safetensors"))
    if (single.length === 1)
      return { source: path.join(location, single[0]!), files: [path.join(location, single[0]!)] }
    throw new SafetensorsFormatError({
      path: location,
      reason:
        single.length === 0
          ? "folder holds no .safetensors file"
          : `folder holds ${single.length} .safetensors files and no ${SHARD_INDEX}`,
    })
  }
  if (location.endsWith(".json")) {
    let index: { weight_map?: Record<string, string> }
    try {
      index = JSON.parse(fs.readFileSync(location, "utf8"))
    } catch (cause) {
      throw new SafetensorsFormatError({
        path: location,
        reason: `not a readable shard index (${(cause as Error).message})`,
      })
    }
    if (!index.weight_map || typeof index.weight_map !== "object")
      throw new SafetensorsFormatError({ path: location, reason: "shard index has no weight_map" })
    const dir = path.dirname(location)
    const files = [...new Set(Object.values(index.weight_map))].map((f) => path.join(dir, f))
    return { source: location, files, weightMap: index.weight_map }
  }
  return { source: location, files: [location] }
}
