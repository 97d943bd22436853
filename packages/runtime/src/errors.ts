import { Data } from "effect"

/** A safetensors file (or shard index) that cannot be read as one. */
export class SafetensorsFormatError extends Data.TaggedError("SafetensorsFormatError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}

/** A tensor asked for by name is absent from the checkpoint. */
export class MissingTensorError extends Data.TaggedError("MissingTensorError")<{
  readonly tensor: string
  readonly path: string
}> {
  override get message() {
    return `tensor "${this.tensor}" is missing from ${this.path}`
  }
}

/** A tensor exists but its shape or dtype is not what the model expects. */
export class TensorMismatchError extends Data.TaggedError("TensorMismatchError")<{
  readonly tensor: string
  readonly path: string
  readonly expected: string
  readonly actual: string
}> {
  override get message() {
    return `tensor "${this.tensor}" in ${this.path}: expected ${this.expected}, found ${this.actual}`
  }
}

/** A statistics manifest (`tensorsFromStatistics`) that does not describe the model's tensors. */
export class TensorStatisticsError extends Data.TaggedError("TensorStatisticsError")<{
  readonly tensor: string
  readonly reason: string
}> {
  override get message() {
    return `tensor statistics for "${this.tensor}": ${this.reason}`
  }
}

/** An ONNX Runtime session failed to be created or to run. */
export class OrtSessionError extends Data.TaggedError("OrtSessionError")<{
  readonly operation: "create" | "run" | "release" | "worker"
  readonly reason: string
}> {
  override get message() {
    return `onnxruntime ${this.operation} failed: ${this.reason}`
  }
}

/** A graph under construction is inconsistent (unknown value, duplicate name, bad attribute). */
export class GraphBuildError extends Data.TaggedError("GraphBuildError")<{
  readonly reason: string
}> {
  override get message() {
    return this.reason
  }
}
