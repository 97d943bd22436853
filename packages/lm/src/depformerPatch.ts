/**
 * Upstream's loader patches for a checkpoint of the older 8-step depformer layout (upstream-spec §3.9),
 * the one place they are written down: per-step modules of steps 8..15 are those of steps 0..7, and
 * the per-step stacked self-attention projections repeat their 8 steps.
 */

const PER_STEP_MODULE = /(gating|linears|depformer_in|depformer_emb)\.(\d+)\./

/** The tensor an 8-step checkpoint serves `name` from (step n − 8), or undefined when `name` is not a step ≥ 8. */
export const eightStepSource = (name: string): string | undefined => {
  const m = PER_STEP_MODULE.exec(name)
  if (!m || Number(m[2]) < 8) return undefined
  return name.replace(PER_STEP_MODULE, `${m[1]}.${Number(m[2]) - 8}.`)
}

/** `name`, or its 8-step source, whichever the checkpoint has; undefined when neither. */
export const resolveDepformerTensor = (has: (name: string) => boolean, name: string): string | undefined => {
  if (has(name)) return name
  const source = eightStepSource(name)
  return source !== undefined && has(source) ? source : undefined
}

/**
 * Which stored step of a stacked projection (`storedRows` rows, `rowsPerStep` a step) serves step
 * `index` of a `steps`-step depformer; undefined when the stack is not a whole number of steps that
 * divides `steps` (8 or 16 stored for 16 steps).
 */
export const stackedStep = (
  storedRows: number,
  rowsPerStep: number,
  steps: number,
  index: number,
): number | undefined => {
  const stored = storedRows / rowsPerStep
  if (!Number.isInteger(stored) || stored < 1 || (steps % stored !== 0 && stored < steps)) return undefined
  return index % stored
}
