import { RING, STREAMS } from "./constants.ts"

/** Tokens given for one step (teacher forcing); absent parts are sampled. */
export interface ProvidedTokens {
  /** User codes, streams 9..16. */
  readonly user?: ArrayLike<number>
  /** Agent codes, streams 1..8. */
  readonly agent?: ArrayLike<number>
  readonly text?: number
}

/** What the model must compute for a step (upstream-spec §4.3 step 6). */
export interface StepInputs {
  /** Column n−1: the 17 model inputs. */
  readonly input: Int32Array
  /** Column n and which of its entries are provided. */
  readonly target: Int32Array
  readonly targetProvided: Uint8Array
}

export interface TokenRingState {
  readonly offset: number
  /** `[17, 4]` row-major. */
  readonly cache: Int32Array
  readonly provided: Uint8Array
}

/**
 * LMGen's delayed token ring (upstream-spec §4.1-4.4): `cache[k][j]` holds stream k's token
 * for ring column j (a time index mod 4), `provided` marks teacher-forced entries.
 */
export class TokenRing {
  offset = 0
  cache = new Int32Array(STREAMS * RING).fill(-2)
  provided = new Uint8Array(STREAMS * RING)
  private readonly initial: Int32Array
  readonly delays: ReadonlyArray<number>
  readonly maxDelay: number

  constructor(delays: ReadonlyArray<number>, textInitial: number, audioInitial: number) {
    this.delays = delays
    this.initial = Int32Array.from({ length: STREAMS }, (_, k) => (k === 0 ? textInitial : audioInitial))
    this.maxDelay = Math.max(...delays)
  }

  private at(k: number, t: number) {
    return k * RING + (((t % RING) + RING) % RING)
  }

  reset(): void {
    this.offset = 0
    this.provided.fill(0)
  }

  /** §4.3: write the provided tokens; returns undefined on the very first call (no model step). */
  prepare(tokens: ProvidedTokens): StepInputs | undefined {
    const n = this.offset
    const put = (k: number, value: number) => {
      const i = this.at(k, n + this.delays[k]!)
      this.cache[i] = value
      this.provided[i] = 1
    }
    if (tokens.user) for (let q = 0; q < 8; q++) put(9 + q, tokens.user[q]!)
    if (tokens.agent) for (let q = 0; q < 8; q++) put(1 + q, tokens.agent[q]!)
    if (tokens.text !== undefined) put(0, tokens.text)
    for (let k = 0; k < STREAMS; k++)
      if (n <= this.delays[k]!) {
        const i = this.at(k, n)
        this.cache[i] = this.initial[k]!
        this.provided[i] = 1
      }
    if (n === 0) {
      for (let k = 0; k < STREAMS; k++) this.cache[this.at(k, 0)] = this.initial[k]!
      this.offset = 1
      return undefined
    }
    const input = new Int32Array(STREAMS)
    const target = new Int32Array(STREAMS)
    const targetProvided = new Uint8Array(STREAMS)
    for (let k = 0; k < STREAMS; k++) {
      input[k] = this.cache[this.at(k, n - 1)]!
      target[k] = this.cache[this.at(k, n)]!
      targetProvided[k] = this.provided[this.at(k, n)]!
    }
    return { input, target, targetProvided }
  }

  /**
   * §4.4 steps 5-8: store the sampled tokens where nothing was provided and return the output
   * frame, or undefined during the warm-up. `audio` holds one token per depformer step; streams
   * beyond it must be provided.
   */
  commit(textSampled: number, audio: ArrayLike<number>): Int32Array | undefined {
    const n = this.offset
    for (let k = 0; k < STREAMS; k++) this.provided[this.at(k, n - 1)] = 0
    const write = (k: number, value: number | undefined) => {
      const i = this.at(k, n)
      if (this.provided[i]) return
      if (value === undefined) throw new Error(`stream ${k} is neither provided nor generated`)
      this.cache[i] = value
    }
    write(0, textSampled)
    for (let j = 0; j < 16; j++) write(1 + j, j < audio.length ? audio[j] : undefined)
    this.offset = n + 1
    if (n <= this.maxDelay) return undefined
    return Int32Array.from(
      { length: STREAMS },
      (_, k) => this.cache[this.at(k, n - this.maxDelay + this.delays[k]!)]!,
    )
  }

  /** State after replaying N stored voice-prompt embeddings (upstream-spec §5.2, TS shortcut). */
  restoreAfterReplay(embeddings: number, cache: Int32Array): void {
    const N = embeddings
    this.offset = N + 1
    this.cache = Int32Array.from(cache)
    this.provided.fill(0)
    for (let k = 0; k < STREAMS; k++) {
      this.provided[this.at(k, N)] = 1
      if (this.delays[k]! > 0) this.provided[this.at(k, N + 1)] = 1
    }
  }

  snapshot(): TokenRingState {
    return { offset: this.offset, cache: this.cache.slice(), provided: this.provided.slice() }
  }

  restore(state: TokenRingState): void {
    this.offset = state.offset
    this.cache = state.cache.slice()
    this.provided = state.provided.slice()
  }
}
