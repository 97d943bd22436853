import { FRAME_MS, FRAME_SAMPLES } from "./types.ts"

/** How the user's stream is cut into utterances for the recognizer. */
export interface SegmenterOptions {
  /** A frame whose RMS level is at least this (dBFS) counts as speech. Default −45. */
  readonly speechThresholdDb?: number
  /** An utterance ends after this much quiet. Default 480 ms. */
  readonly endPauseMs?: number
  /** An utterance is cut here even if the user goes on (Moonshine is trained on clips up to about 30 s). Default 15 000 ms. */
  readonly maxUtteranceMs?: number
  /** Utterances with less speech than this are dropped (a click, a breath). Default 160 ms. */
  readonly minSpeechMs?: number
  /** Quiet frames kept before the first speech frame (a soft onset). Default 2. */
  readonly leadInFrames?: number
}

/** A finished utterance: its audio (24 kHz) and where it lies on the input's timeline. */
export interface Utterance {
  readonly samples: Float32Array
  readonly startMs: number
  readonly endMs: number
}

const levelDb = (frame: Float32Array): number => {
  let sum = 0
  for (let i = 0; i < frame.length; i++) sum += frame[i]! * frame[i]!
  return 10 * Math.log10(sum / frame.length + 1e-12)
}

/**
 * Cuts the user's frames into utterances with a level gate: the recognizer only sees stretches
 * with speech (no compute, and no invented words, on silence), each ending at a pause. A cheap
 * gate, not the voice-activity model: it only decides what is worth recognizing.
 */
export class Segmenter {
  private readonly threshold: number
  private readonly endPauseFrames: number
  private readonly maxFrames: number
  private readonly minSpeechFrames: number
  private readonly leadIn: number
  private frames: Array<Float32Array> = []
  private firstFrame = 0
  private speechFrames = 0
  private quietRun = 0
  private heard = 0
  private lead: Array<Float32Array> = []

  constructor(options: SegmenterOptions = {}) {
    this.threshold = options.speechThresholdDb ?? -45
    this.endPauseFrames = Math.max(1, Math.round((options.endPauseMs ?? 480) / FRAME_MS))
    this.maxFrames = Math.max(1, Math.round((options.maxUtteranceMs ?? 15_000) / FRAME_MS))
    this.minSpeechFrames = Math.max(1, Math.round((options.minSpeechMs ?? 160) / FRAME_MS))
    this.leadIn = options.leadInFrames ?? 2
  }

  /** Frames heard so far (the timeline's length in frames). */
  get framesHeard(): number {
    return this.heard
  }

  /** One 80 ms frame; returns the utterance it completes, if any. */
  push(frame: Float32Array): Utterance | undefined {
    const index = this.heard++
    const speech = levelDb(frame) >= this.threshold
    if (this.frames.length === 0) {
      if (!speech) {
        this.lead.push(frame)
        if (this.lead.length > this.leadIn) this.lead.shift()
        return undefined
      }
      this.firstFrame = index - this.lead.length
      this.frames = [...this.lead]
      this.lead = []
    }
    this.frames.push(frame)
    if (speech) {
      this.speechFrames++
      this.quietRun = 0
    } else this.quietRun++
    if (this.quietRun >= this.endPauseFrames || this.frames.length >= this.maxFrames) return this.cut()
    return undefined
  }

  /** Ends the utterance in progress (at a window switch, or the end of the input). */
  flush(): Utterance | undefined {
    return this.frames.length === 0 ? undefined : this.cut()
  }

  reset(): void {
    this.frames = []
    this.lead = []
    this.speechFrames = 0
    this.quietRun = 0
    this.heard = 0
  }

  private cut(): Utterance | undefined {
    // Trailing quiet beyond one frame carries no words: leave it out of the audio and the timing.
    const keep = this.frames.length - Math.max(0, this.quietRun - 1)
    const frames = this.frames.slice(0, keep)
    const enough = this.speechFrames >= this.minSpeechFrames
    const startMs = this.firstFrame * FRAME_MS
    this.frames = []
    this.speechFrames = 0
    this.quietRun = 0
    if (!enough) return undefined
    const samples = new Float32Array(frames.length * FRAME_SAMPLES)
    frames.forEach((f, i) => {
      samples.set(f, i * FRAME_SAMPLES)
    })
    return { samples, startMs, endMs: startMs + frames.length * FRAME_MS }
  }
}
