/**
 * A smoke LM whose agent never says a word: its text head always prefers the pad token, so the
 * `switch: pause` rule's agent side ("not mid-word") is met through the real model, and the user's
 * pauses alone decide where windows end. The smoke checkpoint is copied with a few tensors changed:
 *
 * - every input embedding (audio and text tables) writes a constant into residual dimension 0, and
 *   no attention or feed-forward output writes there, so that dimension is the same large positive
 *   number at every step whatever was heard;
 * - `out_norm` keeps it positive, and the text head reads only it for the pad row (none of the
 *   other rows do), so the pad logit beats every other by far, at any sampling temperature.
 *
 * The audio side stays random (the agent's audio is noise, as with the plain smoke LM).
 */
import { Checkpoint, float32ToBf16, type TensorToWrite, writeSafetensors } from "@personaplex/runtime"

const TEXT_PAD = 3
const CARRIER = 0 // the residual dimension that carries the constant
const EMBEDDING_VALUE = 4
const PAD_WEIGHT = 8

const isEmbedding = (name: string) => /^(emb\.\d+|text_emb)\.weight$/.test(name)
const writesResidual = (name: string) => /\.(self_attn\.out_proj|gating\.linear_out)\.weight$/.test(name)

/** Changes one tensor's values (row-major, `[rows, columns]` over its last dimension); false: kept as stored. */
const reshape = (name: string, shape: ReadonlyArray<number>, values: Float32Array): boolean => {
  const columns = shape.at(-1)!
  const rows = values.length / columns
  if (isEmbedding(name)) {
    for (let r = 0; r < rows; r++) values[r * columns + CARRIER] = EMBEDDING_VALUE
    return true
  }
  if (writesResidual(name)) {
    values.fill(0, CARRIER * columns, (CARRIER + 1) * columns)
    return true
  }
  if (name === "out_norm.alpha") {
    values[CARRIER] = 1
    return true
  }
  if (name === "text_linear.weight") {
    for (let r = 0; r < rows; r++) values[r * columns + CARRIER] = r === TEXT_PAD ? PAD_WEIGHT : 0
    return true
  }
  return false
}

/** Writes `target`: the smoke LM at `source` with the changes above. */
export const writeQuietAgentLm = (source: string, target: string): void => {
  const checkpoint = Checkpoint.openSync(source)
  try {
    const tensors = checkpoint.names.map((name): TensorToWrite => {
      const info = checkpoint.infoSync(name)
      const values = checkpoint.float32Sync(name).data
      if (!reshape(name, info.shape, values))
        return { name, dtype: info.dtype, shape: info.shape, data: checkpoint.readSync(name).data }
      return {
        name,
        dtype: info.dtype,
        shape: info.shape,
        data: info.dtype === "BF16" ? float32ToBf16(values) : values,
      }
    })
    writeSafetensors(target, tensors, {
      personaplex_smoke_model: "random weights; the text head always pads",
    })
  } finally {
    checkpoint.close()
  }
}
