/**
 * A plain-JS (f64) Moshi LM step written from upstream-spec §3, independent of the graphs:
 * attention keeps every (k, v) with its absolute position and applies the window directly.
 */
import type { Checkpoint } from "@personaplex/runtime"
import type { LmConfig } from "../../src/LmConfig.ts"

type Vec = Float64Array

const matvec = (w: Float32Array, x: ArrayLike<number>, out: number, inF: number, rowOffset = 0): Vec => {
  const y = new Float64Array(out)
  for (let o = 0; o < out; o++) {
    let s = 0
    const base = (rowOffset + o) * inF
    for (let i = 0; i < inF; i++) s += w[base + i]! * x[i]!
    y[o] = s
  }
  return y
}
const rms = (x: Vec, alpha: Float32Array): Vec => {
  let ms = 0
  for (const v of x) ms += v * v
  const inv = 1 / Math.sqrt(ms / x.length + 1e-8)
  return x.map((v, i) => v * alpha[i]! * inv)
}
const add = (a: Vec, b: Vec) => a.map((v, i) => v + b[i]!)
const ffn = (x: Vec, wIn: Float32Array, wOut: Float32Array, dim: number, hidden: number): Vec => {
  const g = matvec(wIn, x, 2 * hidden, dim)
  const h = new Float64Array(hidden)
  for (let i = 0; i < hidden; i++) {
    const a = g[i]!
    h[i] = (a / (1 + Math.exp(-a))) * g[hidden + i]!
  }
  return matvec(wOut, h, dim, hidden)
}
const rope = (x: Vec, heads: number, hd: number, pos: number, maxPeriod: number): Vec => {
  const y = new Float64Array(x.length)
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < hd / 2; i++) {
      const f = Math.exp((-Math.log(maxPeriod) * 2 * i) / hd)
      const c = Math.cos(pos * f)
      const s = Math.sin(pos * f)
      const x0 = x[h * hd + 2 * i]!
      const x1 = x[h * hd + 2 * i + 1]!
      y[h * hd + 2 * i] = x0 * c - x1 * s
      y[h * hd + 2 * i + 1] = x0 * s + x1 * c
    }
  return y
}
const attend = (q: Vec, keys: Vec[], values: Vec[], heads: number, hd: number): Vec => {
  const out = new Float64Array(heads * hd)
  for (let h = 0; h < heads; h++) {
    const scores = keys.map((k) => {
      let s = 0
      for (let i = 0; i < hd; i++) s += q[h * hd + i]! * k[h * hd + i]!
      return s / Math.sqrt(hd)
    })
    const m = Math.max(...scores)
    const e = scores.map((s) => Math.exp(s - m))
    const z = e.reduce((a, b) => a + b, 0)
    for (let j = 0; j < keys.length; j++)
      for (let i = 0; i < hd; i++) out[h * hd + i] += (e[j]! / z) * values[j]![h * hd + i]!
  }
  return out
}
const argmax = (x: ArrayLike<number>) => {
  let best = 0
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i
  return best
}

export class ReferenceLm {
  private readonly t = new Map<string, Float32Array>()
  private kv: Array<Array<{ pos: number; k: Vec; v: Vec }>>
  position = 0

  constructor(
    ckpt: Checkpoint,
    private readonly c: LmConfig,
    private readonly context: number,
    private readonly quirk: boolean,
  ) {
    for (const name of ckpt.names) this.t.set(name, ckpt.float32Sync(name).data)
    this.kv = Array.from({ length: c.numLayers }, () => [])
  }

  private w(name: string) {
    return this.t.get(name)!
  }

  private embed(table: string, id: number, dim: number): Vec {
    const v = new Float64Array(dim)
    if (id === -1) return v
    const w = this.w(table)
    for (let i = 0; i < dim; i++) v[i] = w[id * dim + i]!
    return v
  }

  temporal(tokens: ArrayLike<number>, extra?: Float32Array) {
    const { dim, numHeads: heads } = this.c
    const hd = dim / heads
    let x = new Float64Array(dim)
    for (let k = 0; k < 16; k++) x = add(x, this.embed(`emb.${k}.weight`, tokens[k + 1]!, dim))
    x = add(x, this.embed("text_emb.weight", tokens[0]!, dim))
    if (extra) x = x.map((v, i) => v + extra[i]!)
    const embedding = x
    const p = this.position
    const window = this.quirk && p >= this.context - 1 ? this.context - 1 : this.context
    for (let l = 0; l < this.c.numLayers; l++) {
      const pre = `transformer.layers.${l}`
      const a = rms(x, this.w(`${pre}.norm1.alpha`))
      const qkv = matvec(this.w(`${pre}.self_attn.in_proj_weight`), a, 3 * dim, dim)
      const q = rope(qkv.subarray(0, dim), heads, hd, p, this.c.maxPeriod)
      const k = rope(qkv.subarray(dim, 2 * dim), heads, hd, p, this.c.maxPeriod)
      this.kv[l]!.push({ pos: p, k, v: qkv.slice(2 * dim) })
      const visible = this.kv[l]!.filter((e) => p - e.pos < window)
      const o = attend(
        q,
        visible.map((e) => e.k),
        visible.map((e) => e.v),
        heads,
        hd,
      )
      x = add(x, matvec(this.w(`${pre}.self_attn.out_proj.weight`), o, dim, dim))
      const b = rms(x, this.w(`${pre}.norm2.alpha`))
      x = add(
        x,
        ffn(
          b,
          this.w(`${pre}.gating.linear_in.weight`),
          this.w(`${pre}.gating.linear_out.weight`),
          dim,
          this.c.ffnHidden,
        ),
      )
    }
    this.position += 1
    const hidden = rms(x, this.w("out_norm.alpha"))
    const textLogits = matvec(this.w("text_linear.weight"), hidden, this.c.textCard, dim)
    return { hidden, textLogits, textToken: argmax(textLogits), embedding }
  }

  /** Greedy depformer over `steps` steps; forced tokens condition later steps. */
  depformer(
    hidden: ArrayLike<number>,
    text: number,
    forced: ArrayLike<number>,
    mask: ArrayLike<number>,
    steps: number,
  ) {
    const { dim, card, depformerDim: D, depformerNumHeads: heads } = this.c
    const hd = D / heads
    const kv: Array<Array<{ k: Vec; v: Vec }>> = Array.from({ length: this.c.depformerNumLayers }, () => [])
    const logits: Vec[] = []
    const tokens: number[] = []
    let prev = text
    for (let s = 0; s < steps; s++) {
      let x = matvec(this.w(`depformer_in.${s}.weight`), hidden, D, dim)
      x = add(
        x,
        s === 0
          ? this.embed("depformer_text_emb.weight", prev, D)
          : this.embed(`depformer_emb.${s - 1}.weight`, prev, D),
      )
      for (let l = 0; l < this.c.depformerNumLayers; l++) {
        const pre = `depformer.layers.${l}`
        const a = rms(x, this.w(`${pre}.norm1.alpha`))
        const qkv = matvec(this.w(`${pre}.self_attn.in_proj_weight`), a, 3 * D, D, s * 3 * D)
        kv[l]!.push({ k: qkv.slice(D, 2 * D), v: qkv.slice(2 * D) })
        // Upstream's 16-slot ring hides the oldest key at step 15.
        const visible = this.quirk && s === 15 ? kv[l]!.slice(1) : kv[l]!
        const o = attend(
          qkv.subarray(0, D),
          visible.map((e) => e.k),
          visible.map((e) => e.v),
          heads,
          hd,
        )
        x = add(x, matvec(this.w(`${pre}.self_attn.out_proj.weight`), o, D, D, s * D))
        const b = rms(x, this.w(`${pre}.norm2.alpha`))
        x = add(
          x,
          ffn(
            b,
            this.w(`${pre}.gating.${s}.linear_in.weight`),
            this.w(`${pre}.gating.${s}.linear_out.weight`),
            D,
            this.c.depformerFfnHidden,
          ),
        )
      }
      const lg = matvec(this.w(`linears.${s}.weight`), x, card, D)
      logits.push(lg)
      tokens.push(argmax(lg))
      prev = mask[s] ? forced[s]! : tokens[s]!
    }
    return { logits, tokens }
  }
}
