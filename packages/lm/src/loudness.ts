/**
 * ITU-R BS.1770 integrated loudness as pyloudnorm's `Meter(rate).integrated_loudness` computes
 * it (K-weighting as two biquads, 400 ms blocks with 75 % overlap, absolute gate −70 LUFS,
 * relative gate −10 LU), and the plain gain that upstream applies to voice prompts (§5.1).
 */

interface Biquad {
  readonly b: readonly [number, number, number]
  readonly a: readonly [number, number, number]
}

const biquad = (
  kind: "high_shelf" | "high_pass",
  gainDb: number,
  q: number,
  fc: number,
  rate: number,
): Biquad => {
  const A = 10 ** (gainDb / 40)
  const w0 = (2 * Math.PI * fc) / rate
  const alpha = Math.sin(w0) / (2 * q)
  const cos = Math.cos(w0)
  let b: [number, number, number]
  let a: [number, number, number]
  if (kind === "high_shelf") {
    const s = 2 * Math.sqrt(A) * alpha
    b = [A * (A + 1 + (A - 1) * cos + s), -2 * A * (A - 1 + (A + 1) * cos), A * (A + 1 + (A - 1) * cos - s)]
    a = [A + 1 - (A - 1) * cos + s, 2 * (A - 1 - (A + 1) * cos), A + 1 - (A - 1) * cos - s]
  } else {
    b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    a = [1 + alpha, -2 * cos, 1 - alpha]
  }
  const a0 = a[0]
  return { b: [b[0] / a0, b[1] / a0, b[2] / a0], a: [1, a[1] / a0, a[2] / a0] }
}

/** Direct-form II transposed, zero initial state (scipy `lfilter`). */
const filter = ({ b, a }: Biquad, x: Float64Array): Float64Array => {
  const y = new Float64Array(x.length)
  let z1 = 0
  let z2 = 0
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!
    const yi = b[0] * xi + z1
    z1 = b[1] * xi - a[1] * yi + z2
    z2 = b[2] * xi - a[2] * yi
    y[i] = yi
  }
  return y
}

/** Integrated loudness in LUFS of mono audio; −Infinity for silence. Needs at least 400 ms. */
export const integratedLoudness = (samples: Float32Array, rate: number): number => {
  const blockSeconds = 0.4
  if (samples.length < blockSeconds * rate) return Number.NaN
  let x: Float64Array = Float64Array.from(samples)
  x = filter(biquad("high_shelf", 4.0, 1 / Math.sqrt(2), 1500.0, rate), x)
  x = filter(biquad("high_pass", 0.0, 0.5, 38.0, rate), x)
  const step = 0.25
  const seconds = samples.length / rate
  // numpy's round: half to even.
  const raw = (seconds - blockSeconds) / (blockSeconds * step)
  const rounded = Math.abs(raw - Math.trunc(raw)) === 0.5 ? 2 * Math.round(raw / 2) : Math.round(raw)
  const blocks = rounded + 1
  const z = new Float64Array(blocks)
  for (let j = 0; j < blocks; j++) {
    const lo = Math.trunc(blockSeconds * (j * step) * rate)
    const hi = Math.min(x.length, Math.trunc(blockSeconds * (j * step + 1) * rate))
    let s = 0
    for (let i = lo; i < hi; i++) s += x[i]! * x[i]!
    z[j] = s / (blockSeconds * rate)
  }
  const loudness = (v: number) => -0.691 + 10 * Math.log10(v)
  const mean = (js: number[]) => (js.length ? js.reduce((s, j) => s + z[j]!, 0) / js.length : Number.NaN)
  const all = [...z.keys()]
  const aboveAbsolute = all.filter((j) => loudness(z[j]!) >= -70)
  const relative = loudness(mean(aboveAbsolute)) - 10
  const gated = all.filter((j) => loudness(z[j]!) > relative && loudness(z[j]!) > -70)
  const avg = mean(gated)
  return loudness(Number.isNaN(avg) ? 0 : avg)
}

/**
 * Scale to `target` LUFS (upstream: −24) with a plain gain, as pyloudnorm's `normalize.loudness`.
 * Silent or too-short audio (no finite loudness) is returned unchanged.
 */
export const normalizeLoudness = (samples: Float32Array, rate: number, target = -24): Float32Array => {
  const measured = integratedLoudness(samples, rate)
  if (!Number.isFinite(measured)) return samples.slice()
  const gain = 10 ** ((target - measured) / 20)
  return samples.map((v) => v * gain)
}
