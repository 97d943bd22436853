// The recognizer's thread: transformers.js runs its onnxruntime sessions synchronously, which would
// stall the loop's 80 ms frames on the main thread.
import { parentPort } from "node:worker_threads"
import {
  AutoModelForSpeechSeq2Seq,
  AutoProcessor,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Processor,
  type Tensor,
} from "@huggingface/transformers"
import { resample } from "@personaplex/audio-io"
import { Effect } from "effect"
import type { LoadSettings, RecognizerRequest, RecognizerResponse } from "./recognizerProtocol.ts"
import { INPUT_SAMPLE_RATE } from "./types.ts"

// Moonshine's own rule for its decoder budget: about 6 tokens per second of audio.
const TOKENS_PER_SECOND = 6
// The stem (strides 64·3·2, kernels 127/7/3) needs this many 16 kHz samples for one encoder frame.
const MIN_SAMPLES = 895

interface Loaded {
  readonly model: PreTrainedModel
  readonly processor: Processor
  readonly tokenizer: PreTrainedTokenizer
  readonly sampleRate: number
}

let loaded: Loaded | undefined

const load = async (settings: LoadSettings): Promise<Loaded> => {
  // Everything comes from the resolved folder; the library never fetches on its own.
  env.allowRemoteModels = false
  const options = { local_files_only: true } as const
  const model = await AutoModelForSpeechSeq2Seq.from_pretrained(settings.folder, {
    ...options,
    device: "cpu",
    dtype: settings.dtype as "fp32",
    session_options: { intraOpNumThreads: settings.threads, interOpNumThreads: 1 },
  })
  const processor = await AutoProcessor.from_pretrained(settings.folder, options)
  const tokenizer = await AutoTokenizer.from_pretrained(settings.folder, options)
  const sampleRate = Number(
    (processor.feature_extractor as { config?: { sampling_rate?: number } } | undefined)?.config
      ?.sampling_rate ?? 16_000,
  )
  return { model, processor, tokenizer, sampleRate }
}

const recognize = async (m: Loaded, samples: Float32Array): Promise<string> => {
  const resampled = await Effect.runPromise(resample(samples, INPUT_SAMPLE_RATE, m.sampleRate))
  const audio = resampled.length >= MIN_SAMPLES ? resampled : padded(resampled, MIN_SAMPLES)
  const inputs = await m.processor(audio)
  const maxNewTokens = Math.max(4, Math.ceil((audio.length / m.sampleRate) * TOKENS_PER_SECOND))
  const output = (await m.model.generate({ ...inputs, max_new_tokens: maxNewTokens })) as Tensor
  return m.tokenizer.batch_decode(output, { skip_special_tokens: true })[0]!.trim()
}

const padded = (samples: Float32Array, length: number) => {
  const out = new Float32Array(length)
  out.set(samples)
  return out
}

const port = parentPort!
const reply = (response: RecognizerResponse) => port.postMessage(response)

// One request at a time: two generations must not interleave on the same sessions.
let queue: Promise<unknown> = Promise.resolve()

port.on("message", (request: RecognizerRequest) => {
  const run = async (): Promise<string> => {
    if (request.kind === "load") {
      loaded = await load(request.settings)
      return ""
    }
    if (!loaded) throw new Error("no model loaded")
    return recognize(loaded, request.samples)
  }
  const done = queue.then(run)
  queue = done.catch(() => undefined)
  done.then(
    (text) => reply({ id: request.id, ok: true, text }),
    (error: unknown) =>
      reply({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  )
})
