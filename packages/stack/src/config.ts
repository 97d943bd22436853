import * as fs from "node:fs"
import * as path from "node:path"
import { Data, Effect, Result, Schema, SchemaIssue } from "effect"
import { parse as parseYaml } from "yaml"
import { defined } from "./defined.ts"

// Each field carries its own "expected ..." wording, used verbatim in the error message.
const expecting = <S extends Schema.Top>(schema: S, expected: string) => schema.annotate({ expected })

const numberBetween = (min: number, max: number) => {
  const expected = `a number between ${min} and ${max}`
  return Schema.Number.annotate({ expected }).check(
    Schema.isBetween({ minimum: min, maximum: max }, { expected }),
  )
}
const integerAtLeast = (min: number) => {
  const expected = `an integer ≥ ${min}`
  return Schema.Number.annotate({ expected }).check(
    Schema.isInt({ expected }),
    Schema.isGreaterThanOrEqualTo(min, { expected }),
  )
}
const integerBetween = (min: number, max: number) => {
  const expected = `an integer between ${min} and ${max}`
  return Schema.Number.annotate({ expected }).check(
    Schema.isInt({ expected }),
    Schema.isBetween({ minimum: min, maximum: max }, { expected }),
  )
}
const oneOf = <const L extends ReadonlyArray<string | number>>(values: L) =>
  Schema.Literals(values).annotate({ expected: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}` })
const text = (what: string) => expecting(Schema.String, what)

/** Where the PersonaPlex weights come from: explicit files, a local release folder, or a Hugging Face repo. */
const ModelSection = Schema.Struct({
  /** Mimi codec `.safetensors`. */
  mimi: Schema.optionalKey(text("a path to the Mimi .safetensors file")),
  /** Moshi LM `.safetensors` (file, shard index or folder). */
  lm: Schema.optionalKey(text("a path to the LM .safetensors file")),
  /** SentencePiece `.model`. */
  tokenizer: Schema.optionalKey(text("a path to the SentencePiece .model file")),
  /** A folder holding the release files under their upstream names (never downloads). */
  dir: Schema.optionalKey(text("a folder with the release files")),
  /** Hugging Face repo to fetch from into the cache (default nvidia/personaplex-7b-v1). */
  hf_repo: Schema.optionalKey(text('a Hugging Face repo id such as "nvidia/personaplex-7b-v1"')),
  /** Architecture configs in the upstream JSON layout (for non-PersonaPlex sizes, e.g. tiny test models). */
  mimi_config: Schema.optionalKey(text("a path to a Mimi config JSON")),
  lm_config: Schema.optionalKey(text("a path to an LM config JSON")),
})

const RuntimeSection = Schema.Struct({
  device: Schema.optionalKey(oneOf(["cpu", "webgpu"])),
  quantization: Schema.optionalKey(oneOf(["none", "float16", "int8", "int4"])),
  /** Attention window in frames (upstream's choices: 187, 375, 750, 1500, 3000). */
  context_window: Schema.optionalKey(integerBetween(12, 3000)),
  threads: Schema.optionalKey(integerAtLeast(1)),
  /**
   * Where Mimi runs (default: `device`). "cpu" beside a webgpu LM gives each conversation's codec a
   * CPU worker of its own, so that many conversations of one batched LM step (the web server's
   * `--max-sessions`) encode and decode side by side instead of one after another on the GPU.
   */
  codec_device: Schema.optionalKey(oneOf(["cpu", "webgpu"])),
  /** onnxruntime threads of each CPU codec worker of `codec_device: cpu` beside a webgpu LM (default 1). */
  codec_threads: Schema.optionalKey(integerAtLeast(1)),
  /**
   * WebGPU only (default true there): Mimi and the LM step replay each step's recorded GPU work
   * instead of dispatching it kernel by kernel.
   */
  graph_capture: Schema.optionalKey(expecting(Schema.Boolean, "true or false")),
  /**
   * int8/int4 with the fused LM: quantize each linear's activations to int8 too (integer dot
   * products on WebGPU; the two-graph form always does). Default false.
   */
  int8_activations: Schema.optionalKey(expecting(Schema.Boolean, "true or false")),
  /** How the LM runs: "fused" (one graph a frame, the GPU form), "two-graph" (the CPU form), or "auto" (by device). */
  engine: Schema.optionalKey(oneOf(["auto", "fused", "two-graph"])),
  /** Where converted LM weights are kept between runs (default $PERSONAPLEX_CACHE/converted). */
  cache_dir: Schema.optionalKey(text("a folder")),
})

const ConversationSection = Schema.Struct({
  /** Window length in seconds (10-30). */
  duration: Schema.optionalKey(numberBetween(10, 30)),
  /**
   * Window length in 80 ms frames, for smoke runs and tests only: overrides `duration` and
   * skips its 10-30 s range. Not meant for real conversations.
   */
  window_frames: Schema.optionalKey(integerAtLeast(1)),
  initial_prompt: Schema.optionalKey(text("the persona text")),
  /** WAV file played at each switch (default: the clip shipped with @personaplex/audio-io). */
  thinking_clip: Schema.optionalKey(text("a path to a WAV file")),
  word_budget: Schema.optionalKey(integerAtLeast(1)),
  /** "fast" for files (default), "realtime" for devices or to simulate one. */
  pace: Schema.optionalKey(oneOf(["fast", "realtime"])),
  /**
   * When a window ends: "pause" (default) after `duration`, at the first moment the user (by
   * voice activity) and the agent (padding its text) have both been silent for `pause_ms`, or at
   * `max_duration`; "fixed" exactly at `duration`.
   */
  switch: Schema.optionalKey(oneOf(["fixed", "pause"])),
  /** Silence of both sides that makes a pause, in ms (default 400). */
  pause_ms: Schema.optionalKey(integerBetween(80, 5000)),
  /** The longest window in seconds, for switch: pause (default 1.5 × duration). */
  max_duration: Schema.optionalKey(numberBetween(10, 60)),
  /** The voice-activity detector of switch: pause: "silero" (default, Silero VAD on onnxruntime) or "energy" (a level gate). */
  vad: Schema.optionalKey(oneOf(["silero", "energy"])),
  /** Start each compaction before the cut, so the pause at the switch is the thinking clip (default true). */
  early_compaction: Schema.optionalKey(expecting(Schema.Boolean, "true or false")),
  /** Seconds a compaction is expected to take until one has run (then learned; default 2). */
  compaction_estimate: Schema.optionalKey(numberBetween(0, 60)),
  /** Words said after the early compaction's transcript that make it be redone (default 4). */
  redo_min_words: Schema.optionalKey(integerAtLeast(1)),
  /**
   * At pace realtime, the part of the thinking clip always played at a switch, in ms; past it the
   * clip stops (its last 80 ms frame fading out) as soon as the next window is ready. Default: the
   * whole clip every time.
   */
  clip_min_ms: Schema.optionalKey(integerBetween(0, 10000)),
})

const SamplingSection = Schema.Struct({
  temp: Schema.optionalKey(numberBetween(0, 10)),
  temp_text: Schema.optionalKey(numberBetween(0, 10)),
  top_k: Schema.optionalKey(integerAtLeast(1)),
  top_k_text: Schema.optionalKey(integerAtLeast(1)),
  seed: Schema.optionalKey(integerAtLeast(0)),
  greedy: Schema.optionalKey(expecting(Schema.Boolean, "true or false")),
})

const SecondaryModelSection = Schema.Struct({
  kind: oneOf(["none", "llama_cpp", "openai"]),
  /** GGUF file (llama_cpp). */
  path: Schema.optionalKey(text("a path to a GGUF file")),
  /** Base URL of an OpenAI-compatible server (openai), e.g. http://localhost:8080/v1. */
  url: Schema.optionalKey(text("a base URL")),
  /** Model name sent to the server (openai). */
  model: Schema.optionalKey(text("a model name")),
  /** Seconds the compactor may take before the fallback prompt is used. */
  deadline: Schema.optionalKey(numberBetween(0.1, 120)),
  threads: Schema.optionalKey(integerAtLeast(1)),
  /**
   * Where llama.cpp runs (llama_cpp): auto (the best GPU build installed, else the CPU), vulkan, cuda,
   * metal, or false (the CPU). A GPU named here but not usable gives the CPU and one warning.
   */
  gpu: Schema.optionalKey(
    Schema.Literals(["auto", "vulkan", "cuda", "metal", false]).annotate({
      expected: 'one of "auto", "vulkan", "cuda", "metal", false',
    }),
  ),
  /** Layers on the GPU (llama_cpp): auto (as many as fit, the default), max, or a number. */
  gpu_layers: Schema.optionalKey(
    Schema.Union([Schema.Literals(["auto", "max"]), integerAtLeast(0)]).annotate({
      expected: '"auto", "max" or an integer ≥ 0',
    }),
  ),
})

/** The user's side of the transcript: a speech recognizer on the user's input (Moonshine, @personaplex/transcriber). */
const TranscriberSection = Schema.Struct({
  /** Default true: the section's presence turns it on; false keeps the settings and turns it off. */
  enabled: Schema.optionalKey(expecting(Schema.Boolean, "true or false")),
  /** A folder in transformers.js's layout (config.json, tokenizer, onnx/…); never downloads. */
  model: Schema.optionalKey(text("a folder with a Moonshine model")),
  /** Hugging Face repo fetched into the cache (default onnx-community/moonshine-tiny-ONNX). */
  hf_repo: Schema.optionalKey(text('a Hugging Face repo id such as "onnx-community/moonshine-tiny-ONNX"')),
  revision: Schema.optionalKey(text("a revision (branch, tag or commit)")),
  /** Which ONNX files: fp32 (default) reads onnx/encoder_model.onnx, q8 onnx/encoder_model_quantized.onnx, … */
  dtype: Schema.optionalKey(oneOf(["fp32", "fp16", "q8", "int8", "uint8", "q4"])),
  /** onnxruntime threads of the recognizer (default 1). */
  threads: Schema.optionalKey(integerAtLeast(1)),
})

export const RunConfigSchema = Schema.Struct({
  model: Schema.optionalKey(ModelSection),
  runtime: Schema.optionalKey(RuntimeSection),
  /** A WAV file (encoded at each window start), or a voice cache (`.safetensors` from `voice import`, or upstream `.pt`). */
  voice: Schema.optionalKey(text("a path to a WAV file or a voice cache")),
  conversation: Schema.optionalKey(ConversationSection),
  sampling: Schema.optionalKey(SamplingSection),
  secondary_model: Schema.optionalKey(SecondaryModelSection),
  transcriber: Schema.optionalKey(TranscriberSection),
})

export type RunConfig = typeof RunConfigSchema.Type

/** A config that cannot be used; `issues` are "field.path: expected ..., got ..." lines. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly source: string
  readonly issues: ReadonlyArray<string>
}> {
  override get message() {
    return `invalid configuration (${this.source}):\n  ${this.issues.join("\n  ")}`
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => {
    if (issue._tag === "InvalidType") {
      const expected = issue.ast.annotations?.expected
      if (typeof expected === "string")
        return SchemaIssue.hasInput(issue)
          ? `expected ${expected}, got ${show(issue.input)}`
          : `expected ${expected}`
    }
    if (issue._tag === "UnexpectedKey") return "unknown field"
    if (issue._tag === "MissingKey") return "missing"
    return SchemaIssue.defaultLeafHook(issue)
  },
})

const show = (value: unknown) => (value === undefined ? "nothing" : JSON.stringify(value))
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1)

/** Validates an already parsed config object (every problem reported, each naming its field). */
export const decodeRunConfig = (input: unknown, source = "config"): Effect.Effect<RunConfig, ConfigError> => {
  const result = Schema.decodeUnknownResult(RunConfigSchema)(input ?? {}, {
    errors: "all",
    onExcessProperty: "error",
    reportInput: true,
  })
  if (Result.isSuccess(result)) return Effect.succeed(result.success)
  // A value failing two checks of one field (e.g. 0.5 for an integer ≥ 1) is reported once.
  const issues = [
    ...new Set(
      formatter(result.failure.issue).issues.map(
        (i) => `${i.path && i.path.length > 0 ? i.path.join(".") : "(root)"}: ${lowerFirst(i.message)}`,
      ),
    ),
  ]
  return Effect.fail(new ConfigError({ source, issues }))
}

/** Parses YAML text and validates it. */
export const parseRunConfig = (yamlText: string, source = "config"): Effect.Effect<RunConfig, ConfigError> =>
  Effect.flatMap(
    Effect.try({
      try: () => parseYaml(yamlText) as unknown,
      catch: (error) => new ConfigError({ source, issues: [`not valid YAML: ${(error as Error).message}`] }),
    }),
    (parsed) => decodeRunConfig(parsed, source),
  )

/**
 * Reads and validates a YAML config file. Relative paths inside it are resolved against the
 * file's folder, so a config works from any working directory.
 */
export const loadRunConfig = (file: string): Effect.Effect<RunConfig, ConfigError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (error) =>
        new ConfigError({
          source: file,
          issues: [(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error)],
        }),
    }),
    (yamlText) =>
      Effect.map(parseRunConfig(yamlText, file), (config) => resolvePaths(config, path.dirname(file))),
  )

const resolveIn = (base: string, p: string | undefined) =>
  p === undefined ? undefined : path.resolve(base, p)
/** Makes every file path of the config absolute, relative to `base`. */
export const resolvePaths = (config: RunConfig, base: string): RunConfig =>
  defined<RunConfig>({
    ...config,
    model:
      config.model &&
      defined<NonNullable<RunConfig["model"]>>({
        ...config.model,
        mimi: resolveIn(base, config.model.mimi),
        lm: resolveIn(base, config.model.lm),
        tokenizer: resolveIn(base, config.model.tokenizer),
        dir: resolveIn(base, config.model.dir),
        mimi_config: resolveIn(base, config.model.mimi_config),
        lm_config: resolveIn(base, config.model.lm_config),
      }),
    voice: resolveIn(base, config.voice),
    conversation:
      config.conversation &&
      defined<NonNullable<RunConfig["conversation"]>>({
        ...config.conversation,
        thinking_clip: resolveIn(base, config.conversation.thinking_clip),
      }),
    secondary_model:
      config.secondary_model &&
      defined<NonNullable<RunConfig["secondary_model"]>>({
        ...config.secondary_model,
        path: resolveIn(base, config.secondary_model.path),
      }),
    transcriber:
      config.transcriber &&
      defined<NonNullable<RunConfig["transcriber"]>>({
        ...config.transcriber,
        model: resolveIn(base, config.transcriber.model),
      }),
  })
