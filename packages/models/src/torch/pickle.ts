/**
 * The subset of Python's pickle (protocols 2-5) that `torch.save` emits for dicts of tensors.
 * Objects are rebuilt as plain JS values: dicts → Map, tuples/lists → arrays, ints → number
 * (bigint beyond 2^53), and GLOBAL + REDUCE/BUILD through the `resolveGlobal` hook; persistent
 * ids (torch storages) go through `persistentLoad`. Anything else fails with a message naming
 * the opcode.
 */

/** A Python global the caller did not resolve, kept by name. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName() {
    return `${this.module}.${this.name}`
  }
}

export interface PickleHooks {
  /** Returns a callable for REDUCE (or any value), or undefined to keep a PickleGlobal. */
  readonly resolveGlobal: (module: string, name: string) => unknown
  readonly persistentLoad: (pid: unknown) => unknown
}

export class PickleError extends Error {}

const MARK = Symbol("mark")
const latin1 = new TextDecoder("latin1")
const utf8 = new TextDecoder("utf-8")

export const unpickle = (bytes: Uint8Array, hooks: PickleHooks): unknown => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const stack: unknown[] = []
  const memo = new Map<number, unknown>()
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleError(`pickle truncated at byte ${pos}`)
  }
  const advance = (n: number) => {
    need(n)
    const at = pos
    pos += n
    return at
  }
  const u8 = () => bytes[advance(1)]!
  const u16 = () => view.getUint16(advance(2), true)
  const u32 = () => view.getUint32(advance(4), true)
  const i32 = () => view.getInt32(advance(4), true)
  const u64 = () => Number(view.getBigUint64(advance(8), true))
  const take = (n: number) => {
    const at = advance(n)
    return bytes.subarray(at, at + n)
  }
  const line = () => {
    const end = bytes.indexOf(0x0a, pos)
    if (end < 0) throw new PickleError(`unterminated text line at byte ${pos}`)
    const text = latin1.decode(bytes.subarray(pos, end))
    pos = end + 1
    return text
  }
  const pop = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at byte ${pos}`)
    return stack.pop()
  }
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK)
    if (at < 0) throw new PickleError(`no MARK on the stack at byte ${pos}`)
    const items = stack.slice(at + 1)
    stack.length = at
    return items
  }
  const top = () => stack[stack.length - 1]
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw new PickleError(`SETITEM(S) on a ${typeof target} at byte ${pos}`)
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1])
  }
  const signedLong = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0
    let value = 0n
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!)
    if (raw[raw.length - 1]! & 0x80) value -= 1n << BigInt(8 * raw.length)
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value
  }
  const call = (fn: unknown, args: unknown) => {
    if (typeof fn !== "function") {
      const label = fn instanceof PickleGlobal ? fn.qualifiedName : typeof fn
      throw new PickleError(`cannot call ${label} (not one of the globals torch.save uses for tensors)`)
    }
    return fn(...(args as unknown[]))
  }

  for (;;) {
    const at = pos
    const op = u8()
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError(`unsupported pickle protocol at byte ${at}`)
        break
      case 0x95: // FRAME
        u64()
        break
      case 0x2e: // STOP
        if (stack.length !== 1) throw new PickleError(`STOP with ${stack.length} values on the stack`)
        return stack[0]
      case 0x28: // MARK
        stack.push(MARK)
        break
      case 0x7d: // EMPTY_DICT
        stack.push(new Map())
        break
      case 0x5d: // EMPTY_LIST
        stack.push([])
        break
      case 0x29: // EMPTY_TUPLE
        stack.push([])
        break
      case 0x4e: // NONE
        stack.push(null)
        break
      case 0x88: // NEWTRUE
        stack.push(true)
        break
      case 0x89: // NEWFALSE
        stack.push(false)
        break
      case 0x4b: // BININT1
        stack.push(u8())
        break
      case 0x4d: // BININT2
        stack.push(u16())
        break
      case 0x4a: // BININT
        stack.push(i32())
        break
      case 0x8a: // LONG1
        stack.push(signedLong(take(u8())))
        break
      case 0x8b: // LONG4
        stack.push(signedLong(take(u32())))
        break
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(advance(8), false))
        break
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())))
        break
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())))
        break
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())))
        break
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())))
        break
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(u32())))
        break
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice())
        break
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice())
        break
      case 0x74: // TUPLE
        stack.push(popMark())
        break
      case 0x85: // TUPLE1
        stack.push([pop()])
        break
      case 0x86: {
        // TUPLE2
        const b = pop()
        stack.push([pop(), b])
        break
      }
      case 0x87: {
        // TUPLE3
        const c = pop()
        const b = pop()
        stack.push([pop(), b, c])
        break
      }
      case 0x6c: // LIST
        stack.push(popMark())
        break
      case 0x64: {
        // DICT
        const dict = new Map()
        setItems(dict, popMark())
        stack.push(dict)
        break
      }
      case 0x61: {
        // APPEND
        const value = pop()
        ;(top() as unknown[]).push(value)
        break
      }
      case 0x65: {
        // APPENDS
        const items = popMark()
        ;(top() as unknown[]).push(...items)
        break
      }
      case 0x73: {
        // SETITEM
        const value = pop()
        const key = pop()
        setItems(top(), [key, value])
        break
      }
      case 0x75: {
        // SETITEMS
        const items = popMark()
        setItems(top(), items)
        break
      }
      case 0x71: // BINPUT
        memo.set(u8(), top())
        break
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top())
        break
      case 0x94: // MEMOIZE
        memo.set(memo.size, top())
        break
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32()
        if (!memo.has(key)) throw new PickleError(`memo ${key} read before it was written (byte ${at})`)
        stack.push(memo.get(key))
        break
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line()
        const name = line()
        stack.push(hooks.resolveGlobal(module, name) ?? new PickleGlobal(module, name))
        break
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop() as string
        const module = pop() as string
        stack.push(hooks.resolveGlobal(module, name) ?? new PickleGlobal(module, name))
        break
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()))
        break
      case 0x52: {
        // REDUCE
        const args = pop()
        const fn = pop()
        stack.push(call(fn, args))
        break
      }
      case 0x81: {
        // NEWOBJ
        const args = pop()
        const cls = pop()
        stack.push(call(cls, args))
        break
      }
      case 0x62: {
        // BUILD: only the no-op state torch writes (None or an empty dict) is accepted
        const state = pop()
        if (state !== null && !(state instanceof Map && state.size === 0))
          throw new PickleError(`BUILD with object state at byte ${at} is outside the torch.save subset`)
        break
      }
      default:
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}`)
    }
  }
}
