/** A seeded xorshift32 generator of uniform values in [−1, 1), for random test and benchmark weights. */
export const makeRng = (seed: number): (() => number) => {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 31 - 1
  }
}
