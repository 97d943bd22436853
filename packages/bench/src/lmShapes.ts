import type { LmTensorShape } from "@personaplex/lm"

export const numel = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

export const parameterCount = (tensors: ReadonlyArray<LmTensorShape>): number =>
  tensors.reduce((sum, t) => sum + numel(t.shape), 0)
