import { OrtSession, type OrtTensor, type Session } from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import {
  GpuLmContextFull,
  type GpuLmError,
  GpuLmNoSnapshot,
  type GpuLmOpened,
  type GpuLmOptions,
  type GpuLmSampling,
  type GpuLmStep,
  openStepSessions,
  type SlidingCache,
  tokenInputs,
  windowInputs,
} from "./FusedStep.ts"
import { buildGrowGraph, ropeFrequencies, StepIo } from "./stepGraph.ts"

/**
 * Slots past the frames a row keeps (`maxFrames`): where rows that take no part in a run write
 * (every row of the graph writes one key and value per run row), and so the longest prefill run.
 */
export const BATCH_SLACK = 32

export interface BatchLmOptions extends Omit<GpuLmOptions, "sharedCodes" | "context"> {
  /** Frames a row's cache keeps (`GpuLmOptions.context`); the graph has `BATCH_SLACK` slots more. */
  readonly maxFrames: number
  /** Rows of the graph: sessions stepped together. */
  readonly batch: number
}

/** One row's frame in a batched step. */
export interface BatchRow {
  readonly slot: number
  /** The 17 input tokens (−1 embeds to zero). */
  readonly tokens: Int32Array
  readonly extra?: Float32Array
  readonly sampling?: GpuLmSampling
}

export interface BatchLm {
  readonly opened: GpuLmOpened
  readonly batch: number
  /** The resident pool of its caches. */
  readonly pool: string
  /** Each slot's position, sliding offset and snapshots (what a larger batch takes over). */
  readonly slots: ReadonlyArray<SlotState>
  /** Frames a row's cache holds after a reset (the fixed cache); undefined where it slides. */
  readonly capacity: number | undefined
  position(slot: number): number
  /**
   * One frame for each of `rows` (distinct slots) in ONE run; every other slot is a padding row
   * that writes only where its cache holds nothing yet. A row without room gets its
   * `GpuLmContextFull` in place of a step and takes no part.
   */
  step(rows: ReadonlyArray<BatchRow>): Effect.Effect<ReadonlyArray<GpuLmStep | GpuLmContextFull>, GpuLmError>
  /**
   * Known rows of several slots (each its own rows), together in runs of at most `BATCH_SLACK` rows a
   * slot. A slot whose rows do not fit gets its `GpuLmContextFull` (its earlier runs stay written)
   * and the others go on. Says which slots were refused, and how many runs it took.
   */
  prefill(
    parts: ReadonlyMap<number, PrefillPart>,
  ): Effect.Effect<
    { readonly refused: ReadonlyMap<number, GpuLmContextFull>; readonly runs: number },
    GpuLmError
  >
  reset(slot: number): Effect.Effect<void>
  snapshot(slot: number, key: string): Effect.Effect<void>
  restore(slot: number, key: string): Effect.Effect<void, GpuLmNoSnapshot>
}

const f32 = (data: Float32Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "float32", dims, data })
const i64 = (data: BigInt64Array, dims: ReadonlyArray<number>): OrtTensor => ({ type: "int64", dims, data })

/** One slot's known rows, and their extra embeddings (`[rows, dim]`). */
export interface PrefillPart {
  readonly tokens: ReadonlyArray<Int32Array>
  readonly extra?: Float32Array
}

/** A slot's cache: the next frame's position, the frame in its slot 0 (sliding), its snapshots. */
export interface SlotState {
  position: number
  offset: number
  readonly snapshots: Map<string, { readonly position: number; readonly offset: number }>
}

/**
 * The fused step over `batch` sessions' caches (`[batch, heads, maxFrames + BATCH_SLACK, headDim]`,
 * resident, written in place): each slot keeps its own position, sliding offset and snapshots, as
 * `openGpuLm`'s one session does. Runs of the graph are not serialised here: the caller runs one at a time.
 */
export const openBatchLm = (
  options: BatchLmOptions,
  from?: BatchLm,
): Effect.Effect<BatchLm, GpuLmError, OrtSession | Scope.Scope> =>
  Effect.gen(function* () {
    const slots = options.maxFrames + BATCH_SLACK
    const { session, opened, sliding, pool } = yield* openStepSessions(
      { ...options, context: slots },
      options.batch,
    )
    const lm = makeBatchLm(options, session, opened, sliding, pool)
    if (opened.graphCapture) {
      // The captured step records its graph on its first runs: do them now, not in a tick.
      const idle = Array.from({ length: options.batch }, (_, slot) => ({
        slot,
        tokens: new Int32Array(17).fill(-1),
      }))
      for (let i = 0; i < 2; i++) yield* lm.step(idle)
      for (let slot = 0; slot < options.batch; slot++) yield* lm.reset(slot)
    }
    if (!from) return lm
    // A larger batch: the smaller one's caches copied into its first rows, their slots' states taken over.
    const { config } = options
    const kvCache = options.kvCache ?? "float16"
    const dims = (rows: number) => [rows, config.numHeads, slots, config.dim / config.numHeads]
    const names = Array.from({ length: config.numLayers }, (_, l) => [
      [StepIo.keys(l), StepIo.keysOut(l)],
      [StepIo.values(l), StepIo.valuesOut(l)],
    ]).flat()
    yield* Effect.scoped(
      Effect.gen(function* () {
        const grow = yield* (yield* OrtSession).open({
          model: buildGrowGraph(config, { from: from.batch, rows: options.batch, slots, kvCache }).toBytes(),
          executionProviders: [options.provider],
          disableCpuFallback: options.provider !== "cpu" && !opened.cpuFallbackAllowed,
          resident: {
            pool,
            bindings: names.map(([input, output]) => ({
              input: input!,
              output: output!,
              type: kvCache,
              dims: dims(options.batch),
            })),
          },
          shared: names.map(([input]) => ({
            name: StepIo.grownFrom(input!),
            pool: from.pool,
            buffer: input!,
            type: kvCache,
            dims: dims(from.batch),
          })),
        })
        yield* grow.run({}, [])
      }),
    )
    for (const [b, s] of from.slots.entries()) {
      const mine = lm.slots[b] as SlotState
      mine.position = s.position
      mine.offset = s.offset
      for (const [key, at] of s.snapshots) mine.snapshots.set(key, at)
    }
    return lm
  })

const makeBatchLm = (
  options: BatchLmOptions,
  session: Session,
  opened: GpuLmOpened,
  sliding: SlidingCache | undefined,
  pool: string,
): BatchLm => {
  const { config, batch: B, maxFrames } = options
  const slots = maxFrames + BATCH_SLACK
  const keep = sliding ? sliding.window - 1 : 0
  const freqs = ropeFrequencies(config.dim / config.numHeads, config.maxPeriod)
  const S = options.layout.depformerSteps
  const state: SlotState[] = Array.from({ length: B }, () => ({
    position: 0,
    offset: 0,
    snapshots: new Map(),
  }))
  const fetches = [StepIo.tokens, ...(options.outputLogits ? [StepIo.textLogits, StepIo.audioLogits] : [])]
  const idleRow = new Int32Array(17).fill(-1)

  /** Whether `T` more frames fit slot `b` (a sliding slot first moves its last frames to the front). */
  const room = (b: number, T: number): "fits" | "shift" | GpuLmContextFull => {
    const s = state[b]!
    if (s.position - s.offset + T <= maxFrames) return "fits"
    if (sliding && T <= maxFrames - keep) return "shift"
    return new GpuLmContextFull({ position: s.position, rows: T, capacity: maxFrames })
  }

  const shiftSlots = (moving: ReadonlyArray<number>) =>
    Effect.gen(function* () {
      if (moving.length === 0 || !sliding) return
      const feeds: Record<string, OrtTensor> = {}
      for (let b = 0; b < B; b++) {
        const s = state[b]!
        const from = moving.includes(b) ? s.position - s.offset - keep : 0
        feeds[StepIo.shiftRow(b)] = i64(BigInt64Array.of(BigInt(b), BigInt(from)), [2])
        feeds[StepIo.shiftRowEnd(b)] = i64(BigInt64Array.of(BigInt(b + 1), BigInt(from + keep)), [2])
      }
      yield* sliding.move.run(feeds, [])
      for (const b of moving) {
        state[b]!.offset = state[b]!.position - keep
        state[b]!.snapshots.clear()
      }
    })

  /**
   * The feeds of a run of `T` rows per slot: `rows.get(b)` are slot b's rows (fewer than `T`:
   * the rest pad), a slot without any writes its `T` keys where it holds nothing.
   */
  const feedsFor = (
    T: number,
    rows: ReadonlyMap<number, { readonly tokens: ReadonlyArray<Int32Array>; readonly extra?: Float32Array }>,
    sampling: ReadonlyMap<number, GpuLmSampling>,
  ): Record<string, OrtTensor> => {
    const heads = config.numHeads
    const write = new BigInt64Array(B * heads * T * 3)
    const { dim, textCard, card } = config
    const all: Int32Array[] = []
    const extra = new Float32Array(B * T * dim)
    const half = config.dim / config.numHeads / 2
    const cos = new Float32Array(B * T * half)
    const sin = new Float32Array(B * T * half)
    const bias = new Float32Array(B * T * slots)
    for (let b = 0; b < B; b++) {
      const mine = rows.get(b)
      for (let t = 0; t < T; t++) all.push(mine?.tokens[t] ?? idleRow)
      if (mine?.extra) extra.set(mine.extra.subarray(0, mine.tokens.length * dim), b * T * dim)
      const s = state[b]!
      for (let h = 0; h < heads; h++)
        for (let t = 0; t < T; t++) {
          const i = ((b * heads + h) * T + t) * 3
          write[i] = BigInt(b)
          write[i + 1] = BigInt(h)
          write[i + 2] = BigInt(s.position - s.offset + t)
        }
      // Without a window (the fixed cache), every frame held is in view.
      const w = windowInputs(s.position, T, sliding?.window ?? slots, slots, s.offset, freqs)
      cos.set(w[StepIo.cos]!.data as Float32Array, b * T * half)
      sin.set(w[StepIo.sin]!.data as Float32Array, b * T * half)
      bias.set(w[StepIo.windowBias]!.data as Float32Array, b * T * slots)
    }
    const { [StepIo.ids]: ids, [StepIo.keep]: kept } = tokenInputs(config, all)
    const textNoise = new Float32Array(B * textCard)
    const audioNoise = new Float32Array(B * S * card)
    let textTopK = 1
    let audioTopK = 1
    for (const [b, s] of sampling) {
      textNoise.set(s.textNoise, b * textCard)
      audioNoise.set(s.audioNoise, b * S * card)
      textTopK = Math.max(textTopK, s.textTopK)
      audioTopK = Math.max(audioTopK, s.audioTopK)
    }
    return {
      [StepIo.ids]: { ...ids!, dims: [B, T, 17] },
      [StepIo.keep]: { ...kept!, dims: [B, T, 17, 1] },
      [StepIo.extra]: f32(extra, [B, T, dim]),
      [StepIo.writeIndex]: i64(write, [B, heads, T, 3]),
      [StepIo.cos]: f32(cos, [B * T, half]),
      [StepIo.sin]: f32(sin, [B * T, half]),
      [StepIo.ropeRows]: i64(
        BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i)),
        [B, T],
      ),
      [StepIo.windowBias]: f32(bias, [B, T, slots]),
      [StepIo.textNoise]: f32(textNoise, [B, 1, textCard]),
      [StepIo.audioNoise]: f32(audioNoise, [B, S, card]),
      ...(opened.sampling === "topk"
        ? {
            [StepIo.textTopK]: i64(BigInt64Array.of(BigInt(textTopK)), [1]),
            [StepIo.audioTopK]: i64(BigInt64Array.of(BigInt(audioTopK)), [1]),
          }
        : {}),
    }
  }

  const stepOf = (out: Record<string, OrtTensor>, b: number): GpuLmStep => {
    const tokens = (out[StepIo.tokens]!.data as Float32Array).subarray(b * (1 + S), (b + 1) * (1 + S))
    return {
      textToken: tokens[0]!,
      audioTokens: Int32Array.from(tokens.subarray(1)),
      ...(options.outputLogits
        ? {
            textLogits: (out[StepIo.textLogits]!.data as Float32Array).slice(
              b * config.textCard,
              (b + 1) * config.textCard,
            ),
            audioLogits: (out[StepIo.audioLogits]!.data as Float32Array).slice(
              b * S * config.card,
              (b + 1) * S * config.card,
            ),
          }
        : {}),
    }
  }

  const step = (rows: ReadonlyArray<BatchRow>) =>
    Effect.gen(function* () {
      const results: Array<GpuLmStep | GpuLmContextFull> = []
      const running = new Map<number, { tokens: ReadonlyArray<Int32Array>; extra?: Float32Array }>()
      const sampling = new Map<number, GpuLmSampling>()
      const moving: number[] = []
      for (const row of rows) {
        const fit = room(row.slot, 1)
        if (fit instanceof GpuLmContextFull) continue
        if (fit === "shift") moving.push(row.slot)
        running.set(row.slot, { tokens: [row.tokens], ...(row.extra ? { extra: row.extra } : {}) })
        if (row.sampling) sampling.set(row.slot, row.sampling)
      }
      yield* shiftSlots(moving)
      const out =
        running.size > 0
          ? yield* session.run(feedsFor(1, running, sampling), fetches, { transferFeeds: true })
          : undefined
      for (const row of rows) {
        if (!running.has(row.slot) || !out) {
          results.push(room(row.slot, 1) as GpuLmContextFull)
          continue
        }
        state[row.slot]!.position += 1
        results.push(stepOf(out, row.slot))
      }
      return results
    })

  const prefill = (parts: ReadonlyMap<number, PrefillPart>) =>
    Effect.gen(function* () {
      const dim = config.dim
      const done = new Map([...parts.keys()].map((slot) => [slot, 0]))
      const full = new Map<number, GpuLmContextFull>()
      let runs = 0
      const left = (slot: number) => parts.get(slot)!.tokens.length - done.get(slot)!
      for (;;) {
        const open = [...done.keys()].filter((slot) => !full.has(slot) && left(slot) > 0)
        if (open.length === 0) return { refused: full, runs }
        const T = Math.min(Math.max(...open.map(left)), BATCH_SLACK, sliding ? maxFrames - keep : maxFrames)
        const run = new Map<number, PrefillPart>()
        const moving: number[] = []
        for (const slot of open) {
          const n = Math.min(left(slot), T)
          const fit = room(slot, n)
          if (fit instanceof GpuLmContextFull) {
            full.set(slot, fit)
            continue
          }
          if (fit === "shift") moving.push(slot)
          const from = done.get(slot)!
          const { tokens, extra } = parts.get(slot)!
          run.set(slot, {
            tokens: tokens.slice(from, from + n),
            ...(extra ? { extra: extra.subarray(from * dim, (from + n) * dim) } : {}),
          })
        }
        if (run.size === 0) continue
        yield* shiftSlots(moving)
        yield* session.run(feedsFor(T, run, new Map()), fetches, { live: true, transferFeeds: true })
        runs += 1
        for (const [slot, part] of run) {
          state[slot]!.position += part.tokens.length
          done.set(slot, done.get(slot)! + part.tokens.length)
        }
      }
    })

  const forgetPast = (s: SlotState) => {
    for (const [key, at] of s.snapshots) if (at.position > s.position) s.snapshots.delete(key)
  }
  return {
    opened,
    batch: B,
    pool,
    slots: state,
    capacity: sliding ? undefined : maxFrames,
    position: (slot) => state[slot]!.position,
    step,
    prefill,
    reset: (slot) =>
      Effect.sync(() => {
        const s = state[slot]!
        s.position = 0
        s.offset = 0
        forgetPast(s)
      }),
    snapshot: (slot, key) =>
      Effect.sync(() => {
        const s = state[slot]!
        s.snapshots.set(key, { position: s.position, offset: s.offset })
      }),
    restore: (slot, key) =>
      Effect.gen(function* () {
        const s = state[slot]!
        const at = s.snapshots.get(key)
        if (at === undefined) return yield* new GpuLmNoSnapshot({ key })
        s.position = at.position
        s.offset = at.offset
        forgetPast(s)
      }),
  }
}
