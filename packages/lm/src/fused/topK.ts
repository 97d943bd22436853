import type { GraphBuilder } from "@personaplex/runtime"

/** The longest axis WebGPU's TopK sorts within one workgroup (one dispatch). */
export const ONE_PASS_TOPK = 2048

/** The lowest float32: padding that never ranks among the largest. */
const LOWEST = -3.4028234663852886e38

/**
 * The k-th largest of the `n` values `[batch, 1, n]` as `[batch, 1, 1]` (`k`: int64 `[1]`, at most 1024).
 * WebGPU's TopK sorts an axis longer than `ONE_PASS_TOPK` with a global bitonic sort, a dispatch per
 * stage (122 for the 32,000-entry text vocabulary, about 1.4 ms on the H100). So a longer axis is
 * ranked in two levels: the k largest of each row of at most `ONE_PASS_TOPK`, then the k largest of
 * those. The k-th largest is the same: each of the k largest is among the k largest of its row.
 */
export const kthLargest = (g: GraphBuilder, values: string, k: string, n: number, batch = 1): string => {
  const topValues = (x: string) => g.opMulti("TopK", [x, k], 2, { axis: -1, largest: 1, sorted: 0 })[0]!
  let candidates = values
  if (n > ONE_PASS_TOPK) {
    const rows = Math.ceil(n / ONE_PASS_TOPK)
    const cols = Math.ceil(n / rows)
    const padded =
      rows * cols === n
        ? values
        : g.op(
            "Concat",
            [
              values,
              g.constant(
                "float32",
                [batch, 1, rows * cols - n],
                new Array(batch * (rows * cols - n)).fill(LOWEST),
              ),
            ],
            {
              axis: -1,
            },
          )
    const rowBest = topValues(g.op("Reshape", [padded, g.int64s([batch * rows, cols])]))
    candidates = g.op("Reshape", [rowBest, g.int64s([batch, 1, -1])])
  }
  return g.op("ReduceMin", [topValues(candidates), g.int64s([-1])], { keepdims: 1 })
}
