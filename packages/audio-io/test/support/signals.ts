import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const sine = (frequency: number, sampleRate: number, length: number, amplitude = 0.5) =>
  Float32Array.from({ length }, (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate))

/** Amplitude of the `frequency` component of `x` (Goertzel, normalised so a sine of amplitude a gives ~a). */
export const goertzelAmplitude = (x: Float32Array, frequency: number, sampleRate: number) => {
  const w = (2 * Math.PI * frequency) / sampleRate
  const coeff = 2 * Math.cos(w)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i]! + coeff * s1 - s2
    s2 = s1
    s1 = s0
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2
  return (2 * Math.sqrt(Math.max(0, power))) / x.length
}

/** Upward zero crossings per second. */
export const zeroCrossingRate = (x: Float32Array, sampleRate: number) => {
  let crossings = 0
  for (let i = 1; i < x.length; i++) if (x[i - 1]! < 0 && x[i]! >= 0) crossings++
  return (crossings * sampleRate) / x.length
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

export const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / Math.max(1, x.length))

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `audio-io-${prefix}-`))
