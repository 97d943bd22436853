import { unzipSync } from "fflate"
import { PickleError, unpickle } from "./pickle.ts"

/** Element types of torch storages (the `torch.<Name>Storage` globals torch.save writes). */
export const STORAGE_DTYPES = {
  FloatStorage: { dtype: "float32", bytes: 4 },
  DoubleStorage: { dtype: "float64", bytes: 8 },
  HalfStorage: { dtype: "float16", bytes: 2 },
  BFloat16Storage: { dtype: "bfloat16", bytes: 2 },
  LongStorage: { dtype: "int64", bytes: 8 },
  IntStorage: { dtype: "int32", bytes: 4 },
  ShortStorage: { dtype: "int16", bytes: 2 },
  CharStorage: { dtype: "int8", bytes: 1 },
  ByteStorage: { dtype: "uint8", bytes: 1 },
  BoolStorage: { dtype: "bool", bytes: 1 },
} as const

export type TorchDType = (typeof STORAGE_DTYPES)[keyof typeof STORAGE_DTYPES]["dtype"]

/** A tensor read from a `.pt` file: contiguous little-endian bytes of `shape` in `dtype`. */
export interface TorchTensor {
  readonly dtype: TorchDType
  readonly shape: ReadonlyArray<number>
  /** Device the storage was saved from ("cpu", "cuda:0", ...); the bytes are the same. */
  readonly location: string
  readonly bytes: Uint8Array
}

export class TorchArchiveError extends Error {}

interface Storage {
  readonly dtype: TorchDType
  readonly elementBytes: number
  readonly location: string
  readonly bytes: Uint8Array
}

const copyStrided = (
  storage: Storage,
  offset: number,
  shape: ReadonlyArray<number>,
  stride: ReadonlyArray<number>,
): Uint8Array => {
  const size = storage.elementBytes
  const count = shape.reduce((a, b) => a * b, 1)
  const out = new Uint8Array(count * size)
  if (count === 0) return out
  let maxIndex = offset
  shape.forEach((d, i) => {
    maxIndex += (d - 1) * stride[i]!
  })
  if (offset < 0 || maxIndex * size + size > storage.bytes.length)
    throw new TorchArchiveError(
      `tensor [${shape}] with stride [${stride}] at offset ${offset} reaches past its storage of ${storage.bytes.length / size} elements`,
    )
  const contiguous = shape.every((_, i) => stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1))
  if (contiguous) {
    out.set(storage.bytes.subarray(offset * size, (offset + count) * size))
    return out
  }
  const index = new Array<number>(shape.length).fill(0)
  for (let n = 0; n < count; n++) {
    let element = offset
    for (let i = 0; i < shape.length; i++) element += index[i]! * stride[i]!
    out.set(storage.bytes.subarray(element * size, element * size + size), n * size)
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i]! < shape[i]!) break
      index[i] = 0
    }
  }
  return out
}

const asIntArray = (value: unknown, what: string): number[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isInteger(v)))
    throw new TorchArchiveError(`${what} is not a tuple of integers`)
  return value as number[]
}

/**
 * Reads a `torch.save` zip archive (PyTorch ≥ 1.6 format) into plain values: dicts become Maps,
 * tensors become `TorchTensor`s. Throws `TorchArchiveError` (or `PickleError`) naming the problem.
 */
export const readTorchArchive = (bytes: Uint8Array): unknown => {
  let entries: Record<string, Uint8Array>
  try {
    entries = unzipSync(bytes)
  } catch (error) {
    throw new TorchArchiveError(
      `not a zip archive (${(error as Error).message}); torch.save files before PyTorch 1.6 are not supported`,
    )
  }
  const pickleName = Object.keys(entries).find((name) => /^[^/]+\/data\.pkl$/.test(name))
  if (!pickleName) throw new TorchArchiveError("zip holds no <archive>/data.pkl: not a torch.save file")
  const prefix = pickleName.slice(0, -"data.pkl".length)
  const pickle = entries[pickleName]!
  // torch.save pickles with protocol 2 and more: the first byte is the PROTO opcode (0x80).
  if (pickle[0] !== 0x80)
    throw new TorchArchiveError(
      `a zip whose ${pickleName} is not a pickle (it starts with ${pickle.length === 0 ? "nothing" : `byte 0x${pickle[0]!.toString(16).padStart(2, "0")}`}, not the PROTO opcode 0x80 torch.save writes): not a torch.save file`,
    )
  const byteorder = entries[`${prefix}byteorder`]
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== "little")
    throw new TorchArchiveError(
      `storages are ${new TextDecoder().decode(byteorder).trim()}-endian; only little-endian is supported`,
    )
  const storages = new Map<string, Storage>()
  const loadStorage = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage")
      throw new TorchArchiveError(`unsupported persistent id ${JSON.stringify(pid)}`)
    const [, type, key, location] = pid as [string, unknown, unknown, unknown]
    const typeName = (type as { name?: unknown })?.name
    const kind =
      typeof typeName === "string" ? STORAGE_DTYPES[typeName as keyof typeof STORAGE_DTYPES] : undefined
    if (!kind) throw new TorchArchiveError(`unsupported storage type ${String(typeName)}`)
    const name = `${prefix}data/${String(key)}`
    const cached = storages.get(name)
    if (cached) return cached
    const data = entries[name]
    if (!data) throw new TorchArchiveError(`storage ${name} is missing from the zip`)
    if (data.length % kind.bytes !== 0)
      throw new TorchArchiveError(
        `storage ${name} holds ${data.length} bytes, not a whole number of ${kind.dtype} elements`,
      )
    const storage = { dtype: kind.dtype, elementBytes: kind.bytes, location: String(location), bytes: data }
    storages.set(name, storage)
    return storage
  }
  const rebuildTensor = (storage: Storage, offset: unknown, size: unknown, stride: unknown): TorchTensor => {
    const shape = asIntArray(size, "tensor size")
    const strides = asIntArray(stride, "tensor stride")
    if (strides.length !== shape.length)
      throw new TorchArchiveError(`tensor size [${shape}] and stride [${strides}] disagree`)
    if (typeof offset !== "number") throw new TorchArchiveError("tensor storage offset is not an integer")
    return {
      dtype: storage.dtype,
      shape,
      location: storage.location,
      bytes: copyStrided(storage, offset, shape, strides),
    }
  }
  const globals: Record<string, unknown> = {
    "torch._utils._rebuild_tensor_v2": rebuildTensor,
    "torch._utils._rebuild_tensor": rebuildTensor,
    "torch._utils._rebuild_parameter": (tensor: TorchTensor) => tensor,
    "torch._tensor._rebuild_from_type_v2": (
      fn: (...args: unknown[]) => unknown,
      _type: unknown,
      args: unknown[],
    ) => fn(...args),
    "collections.OrderedDict": () => new Map(),
    "torch.Tensor": { name: "Tensor" },
  }
  try {
    return unpickle(pickle, {
      resolveGlobal: (module, name) => {
        if (module === "torch" && name in STORAGE_DTYPES) return { name }
        return globals[`${module}.${name}`]
      },
      persistentLoad: loadStorage,
    })
  } catch (error) {
    if (!(error instanceof PickleError)) throw error
    throw new TorchArchiveError(
      `a zip whose ${pickleName} is not a pickle torch.save wrote (${error.message}): not a torch.save file`,
    )
  }
}

export { PickleError }
