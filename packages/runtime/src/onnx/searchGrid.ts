/**
 * The most square `rows × cols = n` with `cols ≤ rows`. A search for the first maximum or minimum
 * of n values laid out so (the row holding it, then the column within it) finds the same index as
 * one scan, in two short ones: WebGPU's `ArgMax`/`ArgMin` scan their axis in a single thread.
 */
export const searchGrid = (n: number): { readonly rows: number; readonly cols: number } => {
  let cols = Math.floor(Math.sqrt(n))
  while (n % cols !== 0) cols--
  return { rows: n / cols, cols }
}
