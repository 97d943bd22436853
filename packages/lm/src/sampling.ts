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

/**
 * Turns the options into per-head samplers. Greedy (no sampling, or temperature ≤ 0) feeds zero
 * noise and temperature 1, which makes the in-graph Gumbel-max an argmax.
 */
export class Samplers {
  private readonly prng: Prng
  private readonly textNoise: Float32Array
  private readonly audioNoise: Float32Array

  constructor(
    readonly options: SamplingOptions,
    textCard: number,
    private readonly card: number,
    audioSteps: number,
  ) {
    this.prng = new Prng(options.seed)
    this.textNoise = new Float32Array(textCard)
    this.audioNoise = new Float32Array(card * audioSteps)
  }

  private make(temp: number, topK: number, noise: Float32Array, vocab: number): Sampler {
    if (!this.options.useSampling || temp <= 0) return { temperature: 1, topK: 1, noise: noise.fill(0) }
    return {
      temperature: temp,
      topK: topK > 0 ? Math.min(topK, vocab) : vocab,
      noise: this.prng.gumbel(noise),
    }
  }

  text(): Sampler {
    return this.make(this.options.tempText, this.options.topKText, this.textNoise, this.textNoise.length)
  }

  audio(): Sampler {
    return this.make(this.options.temp, this.options.topK, this.audioNoise, this.card)
  }

  get prngState(): ReadonlyArray<number> {
    return this.prng.state
  }

  set prngState(s: ReadonlyArray<number>) {
    this.prng.state = s
  }
}
