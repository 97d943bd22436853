import * as fs from "node:fs"
import * as path from "node:path"
import onnxProto from "onnx-proto"
import { float32ToBf16, float32ToF16 } from "../dtype.ts"
import { GraphBuildError } from "../errors.ts"

const { onnx } = onnxProto

export type ElementType = "float32" | "float16" | "bfloat16" | "int64" | "int32" | "int8" | "uint8" | "bool"

export const ELEMENT_TYPE_CODE: Record<ElementType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  bfloat16: 16,
}

const ELEMENT_BYTES: Record<ElementType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  bfloat16: 2,
}

/** A dimension: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string

/** Tensor data held in memory: written inline, or to the side file for large graphs. */
export interface InlineTensor {
  readonly type: ElementType
  readonly dims: ReadonlyArray<number>
  readonly data: ArrayBufferView
}

/** Tensor data already on disk (a `.safetensors` file, a converted-weights cache): referenced, never copied. */
export interface ExternalTensor {
  readonly type: ElementType
  readonly dims: ReadonlyArray<number>
  /**
   * Absolute path, or relative to the saved model's folder. onnxruntime reads external data only
   * inside the model's folder: `GraphBuilder.save` hard-links files from elsewhere into it.
   */
  readonly file: string
  readonly offset: number
  readonly length: number
}

export type AttributeValue =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "ints"; readonly value: ReadonlyArray<number> }
  | { readonly kind: "floats"; readonly value: ReadonlyArray<number> }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "tensor"; readonly value: InlineTensor }

/** Attribute constructors, for where a JS number alone is ambiguous (`alpha: 1` is a float). */
export const Attr = {
  int: (value: number): AttributeValue => ({ kind: "int", value }),
  float: (value: number): AttributeValue => ({ kind: "float", value }),
  ints: (value: ReadonlyArray<number>): AttributeValue => ({ kind: "ints", value }),
  floats: (value: ReadonlyArray<number>): AttributeValue => ({ kind: "floats", value }),
  string: (value: string): AttributeValue => ({ kind: "string", value }),
  tensor: (value: InlineTensor): AttributeValue => ({ kind: "tensor", value }),
}

/** Integers become INT(S), other numbers FLOAT(S), strings STRING; use `Attr` to force a kind. */
export type Attributes = Record<string, number | string | ReadonlyArray<number> | AttributeValue | undefined>

export interface OpOptions {
  readonly domain?: string
  readonly name?: string
}

export interface SaveOptions {
  /** Initializers of at least this many bytes go to `<model>.data` beside the model. Default 1 KiB. */
  readonly externalThreshold?: number
  /**
   * Hard-link external files that lie outside the model's folder into it (default true), since
   * onnxruntime refuses external data outside the model's folder. False: fail instead.
   */
  readonly linkExternalFiles?: boolean
}

/** What may stay inside the protobuf: its hard limit is 2 GiB; leave room for the graph itself. */
const MAX_INLINE_BYTES = 2 ** 31 - 64 * 2 ** 20

const isInside = (dir: string, file: string) => {
  const relative = path.relative(dir, file)
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative)
}

/**
 * The location to write for an external file, relative to the model's folder, such that onnxruntime's
 * check (canonical path inside the model's canonical folder) passes; hard-links the file in if needed.
 */
const externalLocation = (dir: string, file: string, initializer: string, link: boolean): string => {
  const fail = (reason: string) =>
    new GraphBuildError({ reason: `external initializer "${initializer}": ${reason}` })
  const wanted = path.resolve(dir, file)
  let real: string
  let realDir: string
  try {
    real = fs.realpathSync(wanted)
    realDir = fs.realpathSync(dir)
  } catch (cause) {
    throw fail(`cannot resolve ${wanted} (${(cause as Error).message})`)
  }
  if (isInside(realDir, real)) return path.relative(realDir, real)
  if (!link)
    throw fail(
      `${real} lies outside the model's folder ${realDir}; onnxruntime only reads external data inside it`,
    )
  const source = fs.statSync(real)
  const base = path.basename(real)
  for (const candidate of [base, `${source.dev}-${source.ino}-${base}`]) {
    const target = path.join(realDir, candidate)
    const existing = fs.statSync(target, { throwIfNoEntry: false })
    if (existing && existing.dev === source.dev && existing.ino === source.ino) return candidate
    if (existing) continue
    try {
      fs.linkSync(real, target)
    } catch (cause) {
      throw fail(
        `${real} lies outside the model's folder ${realDir} and cannot be hard-linked into it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): save the model in a folder on the same file system as the weights`,
      )
    }
    return candidate
  }
  throw fail(
    `cannot hard-link ${real} into ${realDir}: both ${base} and its inode-named alias are taken by other files`,
  )
}

const MS_DOMAIN = "com.microsoft"

const toBytes = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength)

const elementCount = (dims: ReadonlyArray<number>) => dims.reduce((a, b) => a * b, 1)

/**
 * Builds an ONNX model: declare inputs, initializers and nodes, get back value names,
 * serialize to bytes (small models) or to a file with external data (any size).
 */
export class GraphBuilder {
  private readonly nodes: Array<onnxProto.onnx.INodeProto> = []
  private readonly inputs: Array<onnxProto.onnx.IValueInfoProto> = []
  private readonly outputs: Array<onnxProto.onnx.IValueInfoProto> = []
  private readonly inline = new Map<string, InlineTensor>()
  private readonly external = new Map<string, ExternalTensor>()
  private readonly names = new Set<string>()
  private readonly domains = new Set<string>()
  private counter = 0

  readonly name: string
  readonly opset: number

  constructor(name: string, opset = 21) {
    this.name = name
    this.opset = opset
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return this.claim(this.unusedName(prefix))
  }

  private unusedName(prefix: string): string {
    let candidate: string
    do candidate = `${prefix}_${this.counter++}`
    while (this.names.has(candidate))
    return candidate
  }

  private claim(name: string): string {
    if (this.names.has(name))
      throw new GraphBuildError({ reason: `graph "${this.name}": value "${name}" is declared twice` })
    this.names.add(name)
    return name
  }

  input(name: string, type: ElementType, dims: ReadonlyArray<Dim>): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims))
    return name
  }

  /** Mark `value` as a graph output, renamed to `name` (an Identity is inserted when the names differ). */
  output(value: string, name: string, type: ElementType, dims?: ReadonlyArray<Dim>): string {
    if (value !== name) {
      this.claim(name)
      this.nodes.push({ opType: "Identity", input: [value], output: [name], name: `out_${name}` })
    }
    this.outputs.push(valueInfo(name, type, dims))
    return name
  }

  initializer(name: string, tensor: InlineTensor): string {
    const expected = elementCount(tensor.dims) * ELEMENT_BYTES[tensor.type]
    if (tensor.data.byteLength !== expected)
      throw new GraphBuildError({
        reason: `initializer "${name}": ${tensor.data.byteLength} bytes for ${tensor.type}[${tensor.dims}] (needs ${expected})`,
      })
    this.inline.set(this.claim(name), tensor)
    return name
  }

  externalInitializer(name: string, tensor: ExternalTensor): string {
    const expected = elementCount(tensor.dims) * ELEMENT_BYTES[tensor.type]
    if (tensor.length !== expected)
      throw new GraphBuildError({
        reason: `initializer "${name}": ${tensor.length} external bytes for ${tensor.type}[${tensor.dims}] (needs ${expected})`,
      })
    this.external.set(this.claim(name), tensor)
    return name
  }

  /**
   * A small constant stored as an initializer. For float16/bfloat16, numbers are values (rounded to
   * nearest even) and a `Uint16Array` is raw bits.
   */
  constant(
    type: ElementType,
    dims: ReadonlyArray<number>,
    values: ArrayLike<number> | ArrayLike<bigint>,
    prefix = "const",
  ): string {
    return this.initializer(this.unusedName(prefix), { type, dims, data: typedArrayFor(type, values) })
  }

  /**
   * A constant of shape `dims` holding 0, 1, 2, … in row-major order: an index table (a `Gather`
   * from it turns int64 indices into `type` values, which WebGPU cannot `Cast`) or slot positions.
   */
  indices(type: ElementType, dims: ReadonlyArray<number>, prefix = "indices"): string {
    return this.constant(
      type,
      dims,
      Array.from({ length: elementCount(dims) }, (_, i) => i),
      prefix,
    )
  }

  /** int64 1-D constant, the usual shape/axes argument. */
  int64s(values: ReadonlyArray<number>): string {
    return this.constant("int64", [values.length], values.map(BigInt), "i64")
  }

  scalar(value: number, type: ElementType = "float32"): string {
    return this.constant(type, [], type === "int64" ? [BigInt(value)] : [value], "scalar")
  }

  op(
    opType: string,
    inputs: ReadonlyArray<string>,
    attributes: Attributes = {},
    options: OpOptions = {},
  ): string {
    return this.opMulti(opType, inputs, 1, attributes, options)[0]!
  }

  opMulti(
    opType: string,
    inputs: ReadonlyArray<string>,
    outputCount: number,
    attributes: Attributes = {},
    options: OpOptions = {},
  ): string[] {
    for (const input of inputs)
      if (input !== "" && !this.names.has(input))
        throw new GraphBuildError({
          reason: `graph "${this.name}": ${opType} reads unknown value "${input}"`,
        })
    const base = options.name ?? opType.toLowerCase()
    const outputs = Array.from({ length: outputCount }, (_, i) =>
      this.fresh(outputCount === 1 ? base : `${base}${i}`),
    )
    if (options.domain) this.domains.add(options.domain)
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputs,
      name: this.fresh(`n_${base}`),
      domain: options.domain ?? "",
      attribute: Object.entries(attributes)
        .filter((entry): entry is [string, NonNullable<Attributes[string]>] => entry[1] !== undefined)
        .map(([key, value]) => attributeProto(key, value)),
    })
    return outputs
  }

  /** Shorthand for ops of the `com.microsoft` contrib domain (MatMulNBits, RotaryEmbedding, ...). */
  msOp(
    opType: string,
    inputs: ReadonlyArray<string>,
    attributes: Attributes = {},
    outputCount = 1,
    options: Omit<OpOptions, "domain"> = {},
  ): string[] {
    return this.opMulti(opType, inputs, outputCount, attributes, { ...options, domain: MS_DOMAIN })
  }

  get initializerBytes(): number {
    let total = 0
    for (const t of this.inline.values()) total += t.data.byteLength
    return total
  }

  /** Serialize with every in-memory initializer inline (models under 2 GB without external tensors). */
  toBytes(): Uint8Array {
    if (this.external.size > 0)
      throw new GraphBuildError({
        reason: `graph "${this.name}" references external data: save it to a file instead`,
      })
    if (this.initializerBytes > MAX_INLINE_BYTES)
      throw new GraphBuildError({
        reason: `graph "${this.name}" holds ${this.initializerBytes} bytes of initializers, over the 2 GB protobuf limit: save it to a file with external data`,
      })
    const initializers = [...this.inline].map(([name, t]) => inlineProto(name, t))
    return onnx.ModelProto.encode(this.model(initializers)).finish()
  }

  /**
   * Write `<modelPath>` and, for in-memory initializers of at least `externalThreshold` bytes,
   * `<modelPath>.data` beside it (64-byte aligned). Returns the model path.
   *
   * onnxruntime only loads external data that lies inside the model's folder (it rejects absolute
   * locations and paths that resolve, symlinks followed, outside it). An `externalInitializer` whose
   * file lies elsewhere is therefore hard-linked into the model's folder (no copy; same file system
   * needed), unless `linkExternalFiles` is false, in which case it is a `GraphBuildError`.
   */
  save(modelPath: string, options: SaveOptions = {}): string {
    const threshold = options.externalThreshold ?? 1024
    const dir = path.dirname(path.resolve(modelPath))
    const dataName = `${path.basename(modelPath)}.data`
    const dataPath = path.join(dir, dataName)
    const initializers: onnxProto.onnx.ITensorProto[] = []
    const toSide: Array<[string, InlineTensor]> = []
    let inlineBytes = 0
    for (const [name, t] of this.inline) {
      if (t.data.byteLength < threshold) {
        initializers.push(inlineProto(name, t))
        inlineBytes += t.data.byteLength
      } else toSide.push([name, t])
    }
    if (inlineBytes > MAX_INLINE_BYTES)
      throw new GraphBuildError({
        reason: `graph "${this.name}": ${inlineBytes} bytes of initializers under externalThreshold ${threshold} would stay inside the model, over the 2 GB protobuf limit: lower externalThreshold`,
      })
    const locations = new Map<string, string>()
    for (const [name, t] of this.external) {
      const location =
        locations.get(t.file) ?? externalLocation(dir, t.file, name, options.linkExternalFiles ?? true)
      locations.set(t.file, location)
      initializers.push(externalProto(name, { ...t, file: location }))
    }
    if (toSide.length > 0) {
      const fd = fs.openSync(dataPath, "w")
      try {
        let offset = 0
        for (const [name, t] of toSide) {
          const padding = (64 - (offset % 64)) % 64
          if (padding) fs.writeSync(fd, new Uint8Array(padding))
          offset += padding
          const bytes = toBytes(t.data)
          for (let done = 0; done < bytes.byteLength; ) done += fs.writeSync(fd, bytes, done)
          initializers.push(externalProto(name, { ...t, file: dataName, offset, length: bytes.byteLength }))
          offset += bytes.byteLength
        }
      } finally {
        fs.closeSync(fd)
      }
    } else fs.rmSync(dataPath, { force: true })
    fs.writeFileSync(modelPath, onnx.ModelProto.encode(this.model(initializers)).finish())
    return modelPath
  }

  private model(initializer: onnxProto.onnx.ITensorProto[]) {
    return onnx.ModelProto.create({
      irVersion: 10,
      producerName: "@personaplex/runtime",
      opsetImport: [
        { domain: "", version: this.opset },
        ...[...this.domains].map((domain) => ({ domain, version: 1 })),
      ],
      graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer },
    })
  }
}

const valueInfo = (name: string, type: ElementType, dims?: ReadonlyArray<Dim>) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE_CODE[type],
        ...(dims
          ? { shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } }
          : {}),
      },
    },
  })

const inlineProto = (name: string, t: InlineTensor) =>
  onnx.TensorProto.create({
    name,
    dims: [...t.dims],
    dataType: ELEMENT_TYPE_CODE[t.type],
    rawData: toBytes(t.data),
  })

const externalProto = (name: string, t: ExternalTensor) =>
  onnx.TensorProto.create({
    name,
    dims: [...t.dims],
    dataType: ELEMENT_TYPE_CODE[t.type],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: "location", value: t.file },
      { key: "offset", value: String(t.offset) },
      { key: "length", value: String(t.length) },
    ],
  })

const typedArrayFor = (type: ElementType, values: ArrayLike<number> | ArrayLike<bigint>): ArrayBufferView => {
  switch (type) {
    case "float32":
      return Float32Array.from(values as ArrayLike<number>)
    case "int64":
      return BigInt64Array.from(values as ArrayLike<bigint>, (v) => BigInt(v))
    case "int32":
      return Int32Array.from(values as ArrayLike<number>)
    case "int8":
      return Int8Array.from(values as ArrayLike<number>)
    case "uint8":
    case "bool":
      return Uint8Array.from(values as ArrayLike<number>)
    case "float16":
    case "bfloat16":
      // A Uint16Array is taken as raw bits; plain numbers are values, rounded to the 16-bit type.
      if (values instanceof Uint16Array) return values.slice()
      return (type === "float16" ? float32ToF16 : float32ToBf16)(
        Float32Array.from(values as ArrayLike<number>),
      )
  }
}

const attributeProto = (
  name: string,
  value: NonNullable<Attributes[string]>,
): onnxProto.onnx.IAttributeProto => {
  const A = onnx.AttributeProto.AttributeType
  const explicit: AttributeValue =
    typeof value === "number"
      ? Number.isInteger(value)
        ? Attr.int(value)
        : Attr.float(value)
      : typeof value === "string"
        ? Attr.string(value)
        : Array.isArray(value)
          ? value.every(Number.isInteger)
            ? Attr.ints(value)
            : Attr.floats(value)
          : (value as AttributeValue)
  switch (explicit.kind) {
    case "int":
      return { name, type: A.INT, i: explicit.value }
    case "float":
      return { name, type: A.FLOAT, f: explicit.value }
    case "ints":
      return { name, type: A.INTS, ints: [...explicit.value] }
    case "floats":
      return { name, type: A.FLOATS, floats: [...explicit.value] }
    case "string":
      return { name, type: A.STRING, s: new TextEncoder().encode(explicit.value) }
    case "tensor":
      return { name, type: A.TENSOR, t: inlineProto(name, explicit.value) }
  }
}
