// Small float32 tensors for the session tests, and their values as one comparable line.

/** A float32 vector of `values`, as a run's feed. */
export const f32 = (...values: number[]) => ({
  type: "float32" as const,
  dims: [values.length],
  data: Float32Array.from(values),
})

/** A tensor's float32 values joined by commas. */
export const values = (t: { data: unknown }) => [...(t.data as Float32Array)].join(",")
