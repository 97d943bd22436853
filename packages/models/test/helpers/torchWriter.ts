import * as zlib from "node:zlib"

/**
 * Writes files in the layout `torch.save` (PyTorch ≥ 1.6, pickle protocol 2) produces, for tests:
 * a zip of stored entries `<archive>/data.pkl`, `<archive>/byteorder`, `<archive>/data/<key>`,
 * `<archive>/version`, `<archive>/.data/serialization_id`, each entry's data aligned to 64 bytes
 * with padding in a local extra field (id "FB"), as PyTorch's writer does.
 */
export interface TorchTensorSpec {
  readonly storageType: "BFloat16Storage" | "LongStorage" | "FloatStorage" | "HalfStorage" | "IntStorage"
  /** Storage bytes (may be larger than the tensor, for views). */
  readonly storage: Uint8Array
  readonly elementBytes: number
  readonly shape: ReadonlyArray<number>
  readonly stride?: ReadonlyArray<number>
  readonly offset?: number
  readonly location?: string
}

class PickleWriter {
  private readonly parts: number[] = []
  private memo = 0
  byte(...b: number[]) {
    this.parts.push(...b)
  }
  u32(n: number) {
    this.byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff)
  }
  put() {
    // BINPUT like CPython's pickler (memo ids < 256 in these small files)
    this.byte(0x71, this.memo++)
  }
  str(s: string) {
    const b = Buffer.from(s, "utf8")
    this.byte(0x58)
    this.u32(b.length)
    this.byte(...b)
    this.put()
  }
  int(n: number) {
    if (n < 256) this.byte(0x4b, n)
    else if (n < 65536) this.byte(0x4d, n & 0xff, n >> 8)
    else {
      this.byte(0x4a)
      this.u32(n)
    }
  }
  global(module: string, name: string) {
    this.byte(0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1"))
    this.put()
  }
  tuple(items: ReadonlyArray<() => void>) {
    if (items.length === 0) this.byte(0x29)
    else if (items.length <= 3) {
      for (const item of items) item()
      this.byte([0x85, 0x86, 0x87][items.length - 1]!)
    } else {
      this.byte(0x28)
      for (const item of items) item()
      this.byte(0x74)
    }
    this.put()
  }
  bytes() {
    return Uint8Array.from(this.parts)
  }
}

const contiguousStride = (shape: ReadonlyArray<number>) =>
  shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))

/** data.pkl of `torch.save({name: tensor, ...})`: a dict whose tensors reference storages 0, 1, ... */
export const torchPickle = (tensors: ReadonlyArray<readonly [string, TorchTensorSpec]>): Uint8Array => {
  const w = new PickleWriter()
  w.byte(0x80, 2, 0x7d)
  w.put()
  w.byte(0x28)
  tensors.forEach(([name, t], key) => {
    w.str(name)
    w.global("torch._utils", "_rebuild_tensor_v2")
    w.byte(0x28)
    w.tuple([
      () => w.str("storage"),
      () => w.global("torch", t.storageType),
      () => w.str(String(key)),
      () => w.str(t.location ?? "cpu"),
      () => w.int(t.storage.length / t.elementBytes),
    ])
    w.byte(0x51)
    w.int(t.offset ?? 0)
    w.tuple(t.shape.map((d) => () => w.int(d)))
    w.tuple((t.stride ?? contiguousStride(t.shape)).map((d) => () => w.int(d)))
    w.byte(0x89)
    w.global("collections", "OrderedDict")
    w.byte(0x29, 0x52)
    w.put()
    w.byte(0x74)
    w.put()
    w.byte(0x52)
    w.put()
  })
  w.byte(0x75, 0x2e)
  return w.bytes()
}

/** A zip of stored (uncompressed) entries with data aligned to 64 bytes, like PyTorch's writer. */
export const storedZip = (entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array => {
  const chunks: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, "utf8")
    const crc = zlib.crc32(data)
    const headerLength = 30 + nameBytes.length + 4
    const pad = (64 - ((offset + headerLength) % 64)) % 64
    const extra = Buffer.alloc(4 + pad)
    extra.write("FB", 0, "latin1")
    extra.writeUInt16LE(pad, 2)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    local.writeUInt16LE(extra.length, 28)
    const dir = Buffer.alloc(46)
    dir.writeUInt32LE(0x02014b50, 0)
    dir.writeUInt16LE(20, 4)
    dir.writeUInt16LE(20, 6)
    dir.writeUInt32LE(crc, 16)
    dir.writeUInt32LE(data.length, 20)
    dir.writeUInt32LE(data.length, 24)
    dir.writeUInt16LE(nameBytes.length, 28)
    dir.writeUInt32LE(offset, 42)
    central.push(dir, nameBytes)
    chunks.push(local, nameBytes, extra, Buffer.from(data))
    offset += local.length + nameBytes.length + extra.length + data.length
  }
  const centralBytes = Buffer.concat(central)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(centralBytes.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...chunks, centralBytes, end])
}

/** The bytes of `torch.save(dict_of_tensors, "<archive>.pt")`. */
export const torchSave = (
  archive: string,
  tensors: ReadonlyArray<readonly [string, TorchTensorSpec]>,
): Uint8Array =>
  storedZip([
    [`${archive}/data.pkl`, torchPickle(tensors)],
    [`${archive}/byteorder`, Buffer.from("little")],
    ...tensors.map(([, t], key) => [`${archive}/data/${key}`, t.storage] as const),
    [`${archive}/version`, Buffer.from("3\n")],
    [`${archive}/.data/serialization_id`, Buffer.from("1234567890123456789012345678901234567890")],
  ])

/** An upstream-style voice prompt: embeddings [frames,1,1,dim] bf16 and cache [1,17,4] int64. */
export const voicePromptPt = (
  archive: string,
  embeddingsBf16: Uint16Array,
  frames: number,
  dim: number,
  cache: BigInt64Array,
  cacheLocation = "cpu",
) =>
  torchSave(archive, [
    [
      "embeddings",
      {
        storageType: "BFloat16Storage",
        storage: new Uint8Array(embeddingsBf16.buffer, embeddingsBf16.byteOffset, embeddingsBf16.byteLength),
        elementBytes: 2,
        shape: [frames, 1, 1, dim],
      },
    ],
    [
      "cache",
      {
        storageType: "LongStorage",
        storage: new Uint8Array(cache.buffer, cache.byteOffset, cache.byteLength),
        elementBytes: 8,
        shape: [1, 17, 4],
        location: cacheLocation,
      },
    ],
  ])
