import { type Cause, Effect, Layer, Queue, Stream } from "effect"
import {
  ConversationEngine,
  type EngineEvent,
  type EngineSession,
  type EngineStartOptions,
} from "./engine.ts"
import { FRAME_SIZE, SAMPLE_RATE } from "./opus-ogg.ts"

/**
 * A test conversation engine with the timing structure of the real loop and no model: the agent's voice
 * is the user's audio one frame late plus a quiet hum, its words are the words of its current prompt
 * (so each session visibly speaks from its own prompt), and every `windowFrames` frames a window ends,
 * `thinkingFrames` frames of a soft chime stand in for the thinking clip, and a deterministic
 * summary becomes the next prompt.
 */
export interface EchoEngineOptions {
  /** Frames per conversation window (default 25 = 2 s). */
  readonly windowFrames?: number
  /** Frames of "thinking clip" between windows (default 5 = 0.4 s). */
  readonly thinkingFrames?: number
  /** Simulated prompting time before the handshake, ms (default 0). */
  readonly promptDelayMs?: number
  /** Simulated compute per frame, ms (default 0). */
  readonly frameDelayMs?: number
  /** Frames between two words (default 3). */
  readonly framesPerWord?: number
}

const INPUT_CAPACITY = 64
const OUTPUT_CAPACITY = 256

const promptWords = (prompt: string): string[] =>
  prompt
    .replaceAll("<system>", " ")
    .split(/\s+/)
    .filter((w) => w.length > 0)

/** As the loop: `<system>` tags around the text, and no prompt at all for an empty one (as upstream). */
export const wrapPrompt = (text: string): string => {
  const t = text.trim()
  if (t === "") return ""
  return t.startsWith("<system>") && t.endsWith("<system>") && t.length >= 16 ? t : `<system> ${t} <system>`
}

const tone = (frequency: number, startSample: number, gain: number): Float32Array => {
  const out = new Float32Array(FRAME_SIZE)
  for (let i = 0; i < FRAME_SIZE; i++) {
    out[i] = gain * Math.sin((2 * Math.PI * frequency * (startSample + i)) / SAMPLE_RATE)
  }
  return out
}

const startEchoSession = (
  options: Required<EchoEngineOptions>,
  start: EngineStartOptions,
  live: { n: number },
) =>
  Effect.gen(function* () {
    const input = yield* Queue.dropping<Float32Array>(INPUT_CAPACITY)
    const frames = yield* Queue.bounded<Float32Array, Cause.Done>(OUTPUT_CAPACITY)
    const text = yield* Queue.bounded<string, Cause.Done>(OUTPUT_CAPACITY)
    const events = yield* Queue.bounded<EngineEvent, Cause.Done>(OUTPUT_CAPACITY)
    let dropped = 0

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        live.n++
      }),
      () =>
        Effect.sync(() => {
          live.n--
          Queue.endUnsafe(frames)
          Queue.endUnsafe(text)
          Queue.endUnsafe(events)
        }),
    )

    if (options.promptDelayMs > 0) yield* Effect.sleep(options.promptDelayMs)
    const basePersona = start.textPrompt.trim()
    let prompt = wrapPrompt(basePersona)
    let words = promptWords(prompt)
    let wordIndex = 0
    let windowIndex = 0
    let frameInWindow = 0
    let thinkingLeft = 0
    let windowText = ""
    let previous: Float32Array = new Float32Array(FRAME_SIZE)
    let sample = 0
    yield* Queue.offer(events, { _tag: "Prompt", prompt, source: "initial", windowIndex })
    yield* Queue.offer(events, { _tag: "WindowStart", index: windowIndex })

    const step = Effect.fnUntraced(function* (user: Float32Array) {
      const began = performance.now()
      if (options.frameDelayMs > 0) yield* Effect.sleep(options.frameDelayMs)
      let out: Float32Array
      if (thinkingLeft > 0) {
        const fade = thinkingLeft / options.thinkingFrames
        out = tone(660, sample, 0.15 * fade)
        thinkingLeft--
        if (thinkingLeft === 0) {
          const recent = windowText.trim().split(/\s+/).slice(-8).join(" ")
          prompt = wrapPrompt(`${basePersona} Earlier (window ${windowIndex}) you said: "${recent}".`)
          words = promptWords(basePersona)
          wordIndex = 0
          windowText = ""
          const pauseMs = options.thinkingFrames * 80
          windowIndex++
          yield* Queue.offer(events, {
            _tag: "Compaction",
            index: windowIndex - 1,
            durationMs: pauseMs,
            pauseMs,
            source: "fallback",
            prompt,
            reason: "echo engine: deterministic summary",
          })
          yield* Queue.offer(events, { _tag: "Prompt", prompt, source: "fallback", windowIndex })
          yield* Queue.offer(events, { _tag: "WindowStart", index: windowIndex })
        }
      } else {
        const hum = tone(220, sample, 0.05)
        out = new Float32Array(FRAME_SIZE)
        for (let i = 0; i < FRAME_SIZE; i++) out[i] = 0.6 * previous[i]! + hum[i]!
        frameInWindow++
        if (frameInWindow % options.framesPerWord === 0 && words.length > 0) {
          const piece = ` ${words[wordIndex % words.length]}`
          wordIndex++
          windowText += piece
          yield* Queue.offer(text, piece)
        }
        if (frameInWindow >= options.windowFrames) {
          yield* Queue.offer(events, { _tag: "WindowEnd", index: windowIndex, agentText: windowText.trim() })
          frameInWindow = 0
          thinkingLeft = options.thinkingFrames
        }
      }
      previous = user
      sample += FRAME_SIZE
      yield* Queue.offer(frames, out)
      yield* Queue.offer(events, { _tag: "FrameTiming", computeMs: performance.now() - began })
    })

    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(input), step)))

    return {
      pushFrame: (pcm) =>
        Effect.sync(() => {
          if (!Queue.offerUnsafe(input, pcm)) dropped++
        }),
      frames: Stream.fromQueue(frames),
      text: Stream.fromQueue(text),
      events: Stream.fromQueue(events),
      droppedFrames: Effect.sync(() => dropped),
    } satisfies EngineSession
  })

export const EchoEngine = {
  layer: (options: EchoEngineOptions = {}): Layer.Layer<ConversationEngine> =>
    Layer.sync(ConversationEngine, () => {
      const resolved: Required<EchoEngineOptions> = {
        windowFrames: options.windowFrames ?? 25,
        thinkingFrames: options.thinkingFrames ?? 5,
        promptDelayMs: options.promptDelayMs ?? 0,
        frameDelayMs: options.frameDelayMs ?? 0,
        framesPerWord: options.framesPerWord ?? 3,
      }
      const live = { n: 0 }
      return ConversationEngine.of({
        name: "echo",
        device: "none",
        start: (start) => startEchoSession(resolved, start, live),
        liveSessions: Effect.sync(() => live.n),
      })
    }),
}
