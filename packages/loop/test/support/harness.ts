import type { AudioSource } from "@personaplex/audio-io"
import { Layer } from "effect"
import type { CompactionInput } from "../../src/services.ts"
import {
  type CompactorBehaviour,
  type FakeLmOptions,
  fakeCodec,
  fakeCompactor,
  fakeLm,
  fakeTokenizer,
  type LmLog,
  memorySink,
  sourceOf,
} from "./fakes.ts"

/** All six services as fakes, with what they saw exposed for assertions. */
export const fakeWorld = (
  input: ReadonlyArray<Float32Array>,
  options: FakeLmOptions & {
    compactor?: CompactorBehaviour
    /** In place of the in-memory source of `input` (a paced one, say). */
    source?: Layer.Layer<AudioSource>
  } = {},
) => {
  const written: Array<Float32Array> = []
  const lm: LmLog = { prompts: [], steps: 0 }
  const compactions: Array<CompactionInput> = []
  const codec = { resets: 0 }
  const layer = Layer.mergeAll(
    fakeCodec(codec),
    fakeLm(lm, options),
    fakeTokenizer(),
    options.source ?? sourceOf(input),
    memorySink(written),
    fakeCompactor(compactions, options.compactor),
  )
  return { layer, written, lm, compactions, codec }
}
