import * as fs from "node:fs"
import { bf16ToFloat32, f16ToFloat32 } from "@personaplex/runtime"
import { Effect } from "effect"
import { TorchFormatError } from "../errors.ts"
import { readTorchArchive, type TorchTensor } from "./archive.ts"

/** A PersonaPlex voice prompt as upstream saves it (upstream-spec §5.2), widened for the LM. */
export interface TorchVoicePrompt {
  /** `frames × dim` input embeddings, row-major (upstream stores [frames, 1, 1, dim] bf16). */
  readonly embeddings: Float32Array
  /** Number of stored embeddings: the voice's frame count minus one (the first frame is swallowed). */
  readonly frames: number
  readonly dim: number
  /** The LMGen token ring after the voice phase, 17 streams × 4 slots, row-major. */
  readonly cache: Int32Array
}

export const VOICE_CACHE_STREAMS = 17
export const VOICE_CACHE_SLOTS = 4

const isTensor = (value: unknown): value is TorchTensor =>
  typeof value === "object" && value !== null && "dtype" in value && "bytes" in value && "shape" in value

const toFloat32 = (tensor: TorchTensor): Float32Array | undefined => {
  const { bytes } = tensor
  const aligned = bytes.slice()
  switch (tensor.dtype) {
    case "bfloat16":
      return bf16ToFloat32(new Uint16Array(aligned.buffer, 0, aligned.length / 2))
    case "float16":
      return f16ToFloat32(new Uint16Array(aligned.buffer, 0, aligned.length / 2))
    case "float32":
      return new Float32Array(aligned.buffer, 0, aligned.length / 4)
    default:
      return undefined
  }
}

const toInt32 = (tensor: TorchTensor): Int32Array | undefined => {
  const aligned = tensor.bytes.slice()
  if (tensor.dtype === "int32") return new Int32Array(aligned.buffer, 0, aligned.length / 4)
  if (tensor.dtype !== "int64") return undefined
  const wide = new BigInt64Array(aligned.buffer, 0, aligned.length / 8)
  const out = new Int32Array(wide.length)
  for (let i = 0; i < wide.length; i++) {
    const v = wide[i]!
    if (v < -2147483648n || v > 2147483647n) return undefined
    out[i] = Number(v)
  }
  return out
}

class VoicePromptProblem extends Error {}

/** Validates and converts the decoded archive; throws a VoicePromptProblem describing the first problem. */
const parseVoicePrompt = (content: unknown): TorchVoicePrompt => {
  if (!(content instanceof Map))
    throw new VoicePromptProblem(
      `holds a ${Array.isArray(content) ? "list" : typeof content}, not a dict of tensors`,
    )
  const embeddings = content.get("embeddings")
  const cache = content.get("cache")
  if (!isTensor(embeddings))
    throw new VoicePromptProblem(`has no "embeddings" tensor (keys: ${[...content.keys()].join(", ")})`)
  if (!isTensor(cache))
    throw new VoicePromptProblem(`has no "cache" tensor (keys: ${[...content.keys()].join(", ")})`)
  const shape = embeddings.shape
  if (shape.length !== 4 || shape[1] !== 1 || shape[2] !== 1)
    throw new VoicePromptProblem(`"embeddings" has shape [${shape}], expected [frames, 1, 1, dim]`)
  const values = toFloat32(embeddings)
  if (!values)
    throw new VoicePromptProblem(`"embeddings" is ${embeddings.dtype}, expected bfloat16, float16 or float32`)
  const cacheShape = cache.shape
  if (
    cacheShape.length !== 3 ||
    cacheShape[0] !== 1 ||
    cacheShape[1] !== VOICE_CACHE_STREAMS ||
    cacheShape[2] !== VOICE_CACHE_SLOTS
  )
    throw new VoicePromptProblem(
      `"cache" has shape [${cacheShape}], expected [1, ${VOICE_CACHE_STREAMS}, ${VOICE_CACHE_SLOTS}]`,
    )
  const tokens = toInt32(cache)
  if (!tokens)
    throw new VoicePromptProblem(`"cache" is ${cache.dtype} or out of int32 range, expected int64 token ids`)
  return { embeddings: values, frames: shape[0]!, dim: shape[3]!, cache: tokens }
}

/** Parses the bytes of an upstream voice prompt `.pt`; see `readTorchVoicePrompt`. */
export const decodeTorchVoicePrompt = (
  bytes: Uint8Array,
  path = "<bytes>",
): Effect.Effect<TorchVoicePrompt, TorchFormatError> =>
  Effect.try({
    try: () => parseVoicePrompt(readTorchArchive(bytes)),
    catch: (error) =>
      new TorchFormatError({
        path,
        reason:
          error instanceof VoicePromptProblem ? `voice prompt ${error.message}` : (error as Error).message,
      }),
  })

/**
 * Reads an upstream voice prompt (`NATF0.pt` …: torch.save of `{"embeddings": [F-1,1,1,4096] bf16,
 * "cache": [1,17,4] int64}`) without Python: zip + pickle parsed in TypeScript.
 */
export const readTorchVoicePrompt = (path: string): Effect.Effect<TorchVoicePrompt, TorchFormatError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.readFileSync(path),
      catch: (error) =>
        new TorchFormatError({
          path,
          reason:
            (error as NodeJS.ErrnoException).code === "ENOENT"
              ? "no such file"
              : `cannot read (${(error as Error).message})`,
        }),
    }),
    (bytes) => decodeTorchVoicePrompt(bytes, path),
  )
