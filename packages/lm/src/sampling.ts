import type { Sampler } from "./MoshiLm.ts"

/** Sampling as upstream's LMGen: temperature + top-k per head, or greedy argmax. */
export interface SamplingOptions {
  /** Audio temperature (upstream 0.8). */
  readonly temp: number
  /** Text temperature (upstream 0.7). */
  readonly tempText: number
  /** Audio top-k (upstream 250; 0 = whole vocabulary). */
  readonly topK: number
  /** Text top-k (upstream 25; 0 = whole vocabulary). */
  readonly topKText: number
  /** false = greedy argmax everywhere. */
  readonly useSampling: boolean
  /** Seed of the PRNG that feeds the Gumbel noise. */
  readonly seed: number
}

export const defaultSampling: SamplingOptions = {
  temp: 0.8,
  tempText: 0.7,
  topK: 250,
  topKText: 25,
  useSampling: true,
  seed: 42424242,
}

/** sfc32, seeded through splitmix32: small, fast, and the same sequence on every platform. */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    let s = seed >>> 0
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
  }

  /** Uniform in (0, 1), never 0 or 1. */
  uniform(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return (t + 0.5) / 4294967296
  }

  /** Fill with standard Gumbel noise `−log(−log u)`. */
  gumbel(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = -Math.log(-Math.log(this.uniform()))
    return out
  }

  get state(): ReadonlyArray<number> {
    return [this.a, this.b, this.c, this.d]
  }

  set state(s: ReadonlyArray<number>) {
    ;[this.a, this.b, this.c, this.d] = s as [number, number, number, number]
  }
}

/** The samplers of one frame: the text head and the depformer's steps. */
export interface FrameSamplers {
  readonly text: Sampler
  readonly audio: Sampler
}

/**
 * Turns the options into per-frame samplers. Greedy (no sampling, or temperature ≤ 0) feeds zero
 * noise and temperature 1, which makes the in-graph Gumbel-max an argmax. Each frame's noise is a
 * fresh array (an engine may hand it to its worker), drawn in frame order: `drawAhead` draws the
 * next frame's while the current one runs, which changes no token.
 */
export class Samplers {
  readonly options: SamplingOptions
  private readonly textCard: number
  private readonly card: number
  private readonly audioSteps: number
  private readonly prng: Prng
  private pending: FrameSamplers | undefined
  /** The PRNG state before the pending draw: what the next frame starts from. */
  private stateBeforePending: ReadonlyArray<number> | undefined

  // Plain fields, no parameter properties: the module also runs under Node's type stripping (test children).
  constructor(options: SamplingOptions, textCard: number, card: number, audioSteps: number) {
    this.options = options
    this.textCard = textCard
    this.card = card
    this.audioSteps = audioSteps
    this.prng = new Prng(options.seed)
  }

  private make(temp: number, topK: number, vocab: number, rows: number): Sampler {
    const noise = new Float32Array(vocab * rows)
    if (!this.options.useSampling || temp <= 0) return { temperature: 1, topK: 1, noise }
    return {
      temperature: temp,
      topK: topK > 0 ? Math.min(topK, vocab) : vocab,
      noise: this.prng.gumbel(noise),
    }
  }

  private draw(): FrameSamplers {
    return {
      text: this.make(this.options.tempText, this.options.topKText, this.textCard, 1),
      audio: this.make(this.options.temp, this.options.topK, this.card, this.audioSteps),
    }
  }

  /** This frame's samplers: the ones drawn ahead, else drawn now. */
  take(): FrameSamplers {
    const drawn = this.pending ?? this.draw()
    this.pending = undefined
    this.stateBeforePending = undefined
    return drawn
  }

  /** Draw the next frame's samplers now (while the GPU works on this one). */
  drawAhead(): void {
    if (this.pending) return
    this.stateBeforePending = this.prng.state
    this.pending = this.draw()
  }

  get prngState(): ReadonlyArray<number> {
    return this.stateBeforePending ?? this.prng.state
  }

  set prngState(s: ReadonlyArray<number>) {
    this.pending = undefined
    this.stateBeforePending = undefined
    this.prng.state = s
  }
}
