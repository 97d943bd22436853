/**
 * Deterministic stand-ins for the loop's services, to pin down the loop's own logic
 * (timeline, prompts, switch policy, report) independently of the neural networks.
 */

import { AudioSink, AudioSource } from "@personaplex/audio-io"
import { MimiConfig } from "@personaplex/codec"
import { GenerationError } from "@personaplex/compaction"
import { scriptedMoshiLm, twoGraphEngine } from "@personaplex/lm"
import { Duration, Effect, Layer, Stream } from "effect"
import {
  type CompactionInput,
  Compactor,
  FRAME_SIZE,
  LmGen,
  type LmGenShape,
  MimiCodec,
  type SystemPrompt,
  TextTokenizer,
} from "../../src/services.ts"

/** A frame whose samples all equal `value` (so a frame's identity survives the trip). */
export const constantFrame = (value: number) => new Float32Array(FRAME_SIZE).fill(value)

export const inputFrames = (count: number) =>
  Array.from({ length: count }, (_, i) => constantFrame((i + 1) / 1000))

/** Codes carry the frame's first sample; decoding puts codes[0] back as the sample value. */
export const fakeCodec = (log: { resets: number } = { resets: 0 }) =>
  Layer.succeed(
    MimiCodec,
    MimiCodec.of({
      config: MimiConfig.personaplex,
      numCodebooks: 8,
      providers: { encoder: "cpu", decoder: "cpu" },
      form: "host-state",
      encodeClip: () => Effect.die("encodeClip is not used by the loop"),
      decodeClip: () => Effect.die("decodeClip is not used by the loop"),
      encode: (frame) =>
        Effect.succeed(Int32Array.from({ length: 8 }, (_, i) => Math.round(frame[0]! * 1000) + i)),
      decode: (codes) => Effect.succeed(new Float32Array(FRAME_SIZE).fill(codes[0]! / 1000)),
      decodeShared: Effect.die("decodeShared is not used by the loop"),
      resetEncoder: Effect.void,
      resetDecoder: Effect.void,
      reset: Effect.sync(() => {
        log.resets++
      }),
    }),
  )

export interface LmLog {
  readonly prompts: Array<SystemPrompt>
  steps: number
}

export interface FakeLmOptions {
  readonly warmup?: number
  readonly promptDelayMs?: number
  /** The text token of the n-th step after a prompt (n from 1); default PAD, EPAD, word in turn. */
  readonly text?: (sincePrompt: number) => number
}

/**
 * After each prompt the first `warmup` steps return nothing; then the text token cycles
 * through PAD (3), EPAD (0) and word ids (or follows `text`), and the agent echoes the user codes + 100.
 */
export const fakeLm = (log: LmLog, options: FakeLmOptions = {}) => {
  let sincePrompt = 0
  return Layer.succeed(
    LmGen,
    // The loop uses only step, prompt, reset and the engine's description (`lm`); the rest of LmGen's surface is left out.
    LmGen.of({
      lm: twoGraphEngine(scriptedMoshiLm()),
      step: (userCodes: Int32Array) =>
        Effect.sync(() => {
          log.steps++
          sincePrompt++
          if (sincePrompt <= (options.warmup ?? 0)) return undefined
          const out = new Int32Array(17)
          out[0] = options.text?.(sincePrompt) ?? [3, 0, 10 + (sincePrompt % 5)][sincePrompt % 3]!
          for (let i = 0; i < 8; i++) out[1 + i] = userCodes[i]! + 100
          out.set(userCodes, 9)
          return out
        }),
      prompt: (system: SystemPrompt) =>
        Effect.gen(function* () {
          if (options.promptDelayMs) yield* Effect.sleep(Duration.millis(options.promptDelayMs))
          log.prompts.push(system)
          sincePrompt = 0
        }),
      reset: Effect.sync(() => {
        sincePrompt = 0
      }),
    } as unknown as LmGenShape),
  )
}

/** One id per word (its index in a growing vocabulary); pieces "▁w<id>" for ids ≥ 4. */
export const fakeTokenizer = () => {
  const vocab = new Map<string, number>()
  return Layer.succeed(
    TextTokenizer,
    TextTokenizer.of({
      vocabSize: 1000,
      encode: (text) =>
        Int32Array.from(
          text
            .split(/\s+/)
            .filter((w) => w.length > 0)
            .map((w) => {
              if (!vocab.has(w)) vocab.set(w, 4 + vocab.size)
              return vocab.get(w)!
            }),
        ),
      idToPiece: (id) => (id < 4 ? `<special${id}>` : `▁w${id}`),
      textPiece: (id) => (id < 4 ? "" : ` w${id}`),
    }),
  )
}

export const sourceOf = (frames: ReadonlyArray<Float32Array>) =>
  Layer.succeed(AudioSource, AudioSource.of({ frames: Stream.fromIterable(frames) }))

export const memorySink = (written: Array<Float32Array>) =>
  Layer.succeed(
    AudioSink,
    AudioSink.of({
      write: (frame) => Effect.sync(() => void written.push(frame)),
      framesWritten: Effect.sync(() => written.length),
    }),
  )

export interface CompactorBehaviour {
  readonly delayMs?: number
  readonly fail?: boolean
}

export const fakeCompactor = (inputs: Array<CompactionInput>, behaviour: CompactorBehaviour = {}) =>
  Layer.succeed(
    Compactor,
    Compactor.of({
      compact: (input) =>
        Effect.gen(function* () {
          inputs.push(input)
          if (behaviour.delayMs) yield* Effect.sleep(Duration.millis(behaviour.delayMs))
          if (behaviour.fail)
            return yield* Effect.fail(new GenerationError({ backend: "fake", reason: "model exploded" }))
          return {
            prompt: `<system> ${input.basePersona} Summary after ${input.history.length} windows. <system>`,
            source: "model" as const,
            durationMs: behaviour.delayMs ?? 1,
          }
        }),
    }),
  )
