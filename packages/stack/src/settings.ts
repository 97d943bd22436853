import * as path from "node:path"
import { assets } from "@personaplex/audio-io"
import type { LlamaGpu } from "@personaplex/compaction"
import type { EarlyCompactionOptions, Pace, SwitchPolicy } from "@personaplex/loop"
import { defaultCacheDir } from "@personaplex/models"
import type { TranscriberDtype, TranscriberModelSource } from "@personaplex/transcriber"
import type { RunConfig } from "./config.ts"
import { defined } from "./defined.ts"

/** Where the three model files come from. */
export type ModelSource =
  | {
      readonly _tag: "Files"
      readonly mimi: string
      readonly lm: string
      readonly tokenizer: string
      readonly mimiConfig?: string
      readonly lmConfig?: string
    }
  | { readonly _tag: "Folder"; readonly dir: string }
  | { readonly _tag: "Hub"; readonly repo?: string }

export type CompactorChoice =
  | { readonly _tag: "ModelFree" }
  | {
      readonly _tag: "LlamaCpp"
      readonly path: string
      readonly threads?: number
      readonly gpu?: LlamaGpu
      readonly gpuLayers?: "auto" | "max" | number
    }
  | { readonly _tag: "OpenAi"; readonly url: string; readonly model: string }

/** The recognizer of the user's speech, when the config's `transcriber:` section turns it on. */
export interface TranscriberChoice {
  readonly source: TranscriberModelSource
  readonly dtype: TranscriberDtype
  readonly threads: number
}

export const DEFAULT_TRANSCRIBER_REPO = "onnx-community/moonshine-tiny-ONNX"

/** Everything a run needs, after the config file and the command-line flags are merged. */
export interface RunSettings {
  readonly models: ModelSource
  readonly device: "cpu" | "webgpu"
  /** Where Mimi runs: `device`, or the CPU beside a webgpu LM (a worker per codec). */
  readonly codecDevice: "cpu" | "webgpu"
  /** onnxruntime threads of each CPU codec worker beside a webgpu LM. */
  readonly codecThreads?: number
  /** Mimi and the LM replay captured GPU steps (WebGPU only; Mimi only where it runs on the GPU). */
  readonly graphCapture: boolean
  readonly quantization: "none" | "float16" | "int8" | "int4"
  /** int8/int4 with the fused LM: int8 activations too. */
  readonly int8Activations?: boolean
  readonly context?: number
  readonly engine: "auto" | "fused" | "two-graph"
  /** Converted LM weights between runs. */
  readonly cacheDir: string
  readonly threads?: number
  readonly voice?: string
  readonly windowFrames: number
  readonly initialPrompt: string
  readonly thinkingClip: string
  readonly wordBudget?: number
  readonly pace: Pace
  readonly switchPolicy: SwitchPolicy
  /** The voice-activity layer of `switchPolicy: pause`. */
  readonly vad: "silero" | "energy"
  readonly earlyCompaction?: EarlyCompactionOptions
  /** The part of the thinking clip always played (realtime; absent: all of it). */
  readonly thinkingClipMinMs?: number
  readonly sampling: {
    readonly temp?: number
    readonly tempText?: number
    readonly topK?: number
    readonly topKText?: number
    readonly seed?: number
    readonly useSampling?: boolean
  }
  readonly compactor: CompactorChoice
  readonly compactionDeadlineMs: number
  readonly maxInputFrames?: number
  /** Absent: no transcriber, the compactor sees the agent's text only. */
  readonly transcriber?: TranscriberChoice
}

/** Flags that override the config file. */
export interface RunOverrides {
  readonly windowSeconds?: number
  readonly windowFrames?: number
  readonly maxSeconds?: number
  readonly prompt?: string
  readonly voice?: string
  readonly pace?: Pace
  readonly device?: "cpu" | "webgpu"
  readonly graphCapture?: boolean
  readonly seed?: number
}

export const FRAMES_PER_SECOND = 12.5
export const DEFAULT_WINDOW_SECONDS = 20
export const DEFAULT_PROMPT =
  "You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way."
export const DEFAULT_DEADLINE_SECONDS = 5
export const DEFAULT_COMPACTION_ESTIMATE_SECONDS = 2
/** `conversation.max_duration` by default, as a multiple of the window. */
export const DEFAULT_MAX_DURATION_FACTOR = 1.5

export const secondsToFrames = (seconds: number) => Math.max(1, Math.round(seconds * FRAMES_PER_SECOND))

const modelSource = (model: RunConfig["model"]): ModelSource => {
  if (model?.mimi !== undefined && model.lm !== undefined && model.tokenizer !== undefined)
    return defined<ModelSource & { _tag: "Files" }>({
      _tag: "Files",
      mimi: model.mimi,
      lm: model.lm,
      tokenizer: model.tokenizer,
      mimiConfig: model.mimi_config,
      lmConfig: model.lm_config,
    })
  if (model?.dir !== undefined) return { _tag: "Folder", dir: model.dir }
  return defined<ModelSource & { _tag: "Hub" }>({ _tag: "Hub", repo: model?.hf_repo })
}

const compactorChoice = (secondary: RunConfig["secondary_model"]): CompactorChoice => {
  switch (secondary?.kind) {
    case "llama_cpp":
      return defined<CompactorChoice & { _tag: "LlamaCpp" }>({
        _tag: "LlamaCpp",
        path: secondary.path ?? "",
        threads: secondary.threads,
        gpu: secondary.gpu,
        gpuLayers: secondary.gpu_layers,
      })
    case "openai":
      return { _tag: "OpenAi", url: secondary.url ?? "", model: secondary.model ?? "default" }
    default:
      return { _tag: "ModelFree" }
  }
}

const transcriberChoice = (section: RunConfig["transcriber"]): TranscriberChoice | undefined => {
  if (section === undefined || section.enabled === false) return undefined
  const source: TranscriberModelSource =
    section.model !== undefined
      ? { folder: section.model }
      : defined<{ repo: string; revision?: string }>({
          repo: section.hf_repo ?? DEFAULT_TRANSCRIBER_REPO,
          revision: section.revision,
        })
  return { source, dtype: section.dtype ?? "fp32", threads: section.threads ?? 1 }
}

/**
 * Merges the validated config and the flags (flags win). Checks what the schema cannot:
 * cross-field requirements such as a GGUF path for `secondary_model.kind: llama_cpp`.
 */
export const resolveSettings = (
  config: RunConfig,
  overrides: RunOverrides,
): { readonly settings: RunSettings } | { readonly problems: ReadonlyArray<string> } => {
  const problems: Array<string> = []
  const secondary = config.secondary_model
  if (secondary?.kind === "llama_cpp" && secondary.path === undefined)
    problems.push("secondary_model.path: required when kind is llama_cpp (a GGUF file)")
  if (config.transcriber?.model !== undefined && config.transcriber.hf_repo !== undefined)
    problems.push("transcriber: give model (a folder) or hf_repo, not both")
  if (secondary?.kind === "openai" && secondary.url === undefined)
    problems.push("secondary_model.url: required when kind is openai (e.g. http://localhost:8080/v1)")
  const model = config.model
  const partial = [model?.mimi, model?.lm, model?.tokenizer].filter((p) => p !== undefined).length
  if (partial > 0 && partial < 3)
    problems.push(
      "model: give all of mimi, lm and tokenizer, or dir, or hf_repo (only some of the files were given)",
    )
  if (overrides.windowSeconds !== undefined && !(overrides.windowSeconds > 0))
    problems.push(`--window-seconds: expected a positive number, got ${overrides.windowSeconds}`)
  if (overrides.maxSeconds !== undefined && !(overrides.maxSeconds > 0))
    problems.push(`--max-seconds: expected a positive number, got ${overrides.maxSeconds}`)
  const device = overrides.device ?? config.runtime?.device ?? "cpu"
  const graphCapture = overrides.graphCapture ?? config.runtime?.graph_capture ?? device === "webgpu"
  if (graphCapture && device !== "webgpu")
    problems.push(`runtime.graph_capture: needs device webgpu, the device is ${device}`)
  const codecDevice = config.runtime?.codec_device ?? device
  if (codecDevice !== device && device === "cpu")
    problems.push(`runtime.codec_device: ${codecDevice} needs device ${codecDevice}, the device is cpu`)
  if (problems.length > 0) return { problems }

  const conversation = config.conversation
  // Precedence: --window-frames, --window-seconds, conversation.window_frames (smoke), conversation.duration.
  const windowFrames =
    overrides.windowFrames ??
    (overrides.windowSeconds !== undefined ? secondsToFrames(overrides.windowSeconds) : undefined) ??
    conversation?.window_frames ??
    secondsToFrames(conversation?.duration ?? DEFAULT_WINDOW_SECONDS)
  const maxWindowFrames =
    conversation?.max_duration !== undefined
      ? secondsToFrames(conversation.max_duration)
      : Math.ceil(windowFrames * DEFAULT_MAX_DURATION_FACTOR)
  const switchMode = conversation?.switch ?? "pause"
  if (switchMode === "pause" && maxWindowFrames < windowFrames)
    return {
      problems: [
        `conversation.max_duration: ${conversation?.max_duration} s is shorter than the window (${windowFrames / FRAMES_PER_SECOND} s)`,
      ],
    }
  const switchPolicy: SwitchPolicy =
    switchMode === "fixed"
      ? { mode: "fixed" }
      : defined<SwitchPolicy>({ mode: "pause", pauseMs: conversation?.pause_ms, maxWindowFrames })
  const earlyCompaction =
    (conversation?.early_compaction ?? true)
      ? defined<EarlyCompactionOptions>({
          expectedMs: (conversation?.compaction_estimate ?? DEFAULT_COMPACTION_ESTIMATE_SECONDS) * 1000,
          redoMinWords: conversation?.redo_min_words,
        })
      : undefined
  const sampling = config.sampling
  return {
    settings: defined<RunSettings>({
      models: modelSource(model),
      device,
      codecDevice,
      codecThreads: config.runtime?.codec_threads,
      graphCapture,
      quantization: config.runtime?.quantization ?? "none",
      int8Activations: config.runtime?.int8_activations,
      context: config.runtime?.context_window,
      engine: config.runtime?.engine ?? "auto",
      cacheDir: config.runtime?.cache_dir ?? path.join(defaultCacheDir(process.env), "converted"),
      threads: config.runtime?.threads,
      voice: overrides.voice ?? config.voice,
      windowFrames,
      initialPrompt: overrides.prompt ?? conversation?.initial_prompt ?? DEFAULT_PROMPT,
      thinkingClip: conversation?.thinking_clip ?? assets.thinkingWav,
      wordBudget: conversation?.word_budget,
      pace: overrides.pace ?? conversation?.pace ?? "fast",
      switchPolicy,
      vad: conversation?.vad ?? "silero",
      earlyCompaction,
      thinkingClipMinMs: conversation?.clip_min_ms,
      sampling: defined<RunSettings["sampling"]>({
        temp: sampling?.temp,
        tempText: sampling?.temp_text,
        topK: sampling?.top_k,
        topKText: sampling?.top_k_text,
        seed: overrides.seed ?? sampling?.seed,
        useSampling: sampling?.greedy === undefined ? undefined : !sampling.greedy,
      }),
      compactor: compactorChoice(secondary),
      compactionDeadlineMs: (secondary?.deadline ?? DEFAULT_DEADLINE_SECONDS) * 1000,
      maxInputFrames: overrides.maxSeconds === undefined ? undefined : secondsToFrames(overrides.maxSeconds),
      transcriber: transcriberChoice(config.transcriber),
    }),
  }
}
