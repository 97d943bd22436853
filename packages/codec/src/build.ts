import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Checkpoint,
  GraphBuildError,
  MissingTensorError,
  SafetensorsFormatError,
  TensorMismatchError,
} from "@personaplex/runtime"
import { Effect, type Scope } from "effect"
import type { MimiConfig } from "./config.ts"
import { MimiConfigError } from "./errors.ts"
import type { StateSpec, StepGraph, StepGraphOptions } from "./graph/StepGraph.ts"
import { buildDecoderStep, buildEncoderStep } from "./graph/steps.ts"
import { decoderTensors, encoderTensors } from "./plan.ts"
import { checkTensors, readWeights } from "./weights.ts"

export interface BuiltStep {
  /** Model bytes, or the path of a saved `.onnx` (with its external data beside it). */
  readonly model: Uint8Array | string
  readonly states: ReadonlyArray<StateSpec>
}

export interface BuiltCodec {
  readonly encoder: BuiltStep
  readonly decoder: BuiltStep
}

/** Above this many initializer bytes a graph goes to a temp file with external data instead of one protobuf. */
const INLINE_LIMIT = 64 * 2 ** 20

type BuildError =
  | MissingTensorError
  | TensorMismatchError
  | SafetensorsFormatError
  | GraphBuildError
  | MimiConfigError

const asBuildError = (error: unknown): BuildError => {
  if (
    error instanceof MissingTensorError ||
    error instanceof TensorMismatchError ||
    error instanceof SafetensorsFormatError ||
    error instanceof GraphBuildError ||
    error instanceof MimiConfigError
  )
    return error
  return new GraphBuildError({
    reason: `building the Mimi graphs failed: ${(error as Error)?.message ?? String(error)}`,
  })
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "mimi-onnx-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
)

const serialize = (sg: StepGraph, dir: string): BuiltStep => ({
  model:
    sg.g.initializerBytes > INLINE_LIMIT ? sg.g.save(path.join(dir, `${sg.g.name}.onnx`)) : sg.g.toBytes(),
  states: sg.states,
})

/**
 * Read a Mimi checkpoint (upstream tensor names) and build the encoder and decoder step graphs.
 * Every tensor is checked (name and shape) before any is read. Large graphs are written to a
 * temp folder that is removed when the scope closes.
 */
export const buildCodec = (
  checkpointPath: string,
  config: MimiConfig,
  options: StepGraphOptions = {},
): Effect.Effect<BuiltCodec, BuildError, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    return yield* Effect.scoped(
      Effect.flatMap(Checkpoint.open(checkpointPath), (checkpoint) =>
        Effect.try({
          try: () => {
            const encoderSpecs = encoderTensors(config)
            const decoderSpecs = decoderTensors(config)
            checkTensors(checkpoint, [...encoderSpecs, ...decoderSpecs])
            const encoder = serialize(
              buildEncoderStep(config, readWeights(checkpoint, encoderSpecs), options),
              dir,
            )
            const decoder = serialize(
              buildDecoderStep(config, readWeights(checkpoint, decoderSpecs), options),
              dir,
            )
            return { encoder, decoder }
          },
          catch: asBuildError,
        }),
      ),
    )
  })
