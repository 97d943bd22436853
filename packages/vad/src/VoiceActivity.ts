import type { OrtSession } from "@personaplex/runtime"
import { Context, type Effect, Layer } from "effect"
import { type EnergyOptions, makeEnergyDetector } from "./energy.ts"
import type { VoiceActivityError } from "./errors.ts"
import { makeSileroDetector, type SileroOptions } from "./silero.ts"

/** What the detector heard in one 80 ms input frame. */
export interface FrameActivity {
  /** How likely the frame holds speech, 0 to 1 (Silero: the highest of its 32 ms windows that ended in the frame). */
  readonly probability: number
  /** Speech, after the detector's hysteresis (see `SpeechGateOptions`). */
  readonly speech: boolean
}

export interface VoiceActivityShape {
  /** Which detector runs ("silero-v5", "energy"), for run reports. */
  readonly detector: string
  /**
   * The next frame of the user's stream: 24 kHz mono, 1920 samples (80 ms), in order. A frame of
   * another length fails with a VoiceActivityError.
   */
  push(frame: Float32Array): Effect.Effect<FrameActivity, VoiceActivityError>
  /** Forget the stream so far (model state, resampler and context samples, hysteresis). */
  readonly reset: Effect.Effect<void, VoiceActivityError>
}

/** Voice activity on the user's input stream, frame by frame. */
export class VoiceActivity extends Context.Service<VoiceActivity, VoiceActivityShape>()(
  "@personaplex/vad/VoiceActivity",
) {
  /**
   * Silero VAD (the `.onnx` shipped in `@ricky0123/vad-web`) run by onnxruntime through `OrtSession`
   * at 16 kHz: frames are resampled with audio-io's streaming resampler and cut into the model's
   * 512-sample windows. The session is released with the layer's scope.
   */
  static silero(options?: SileroOptions): Layer.Layer<VoiceActivity, VoiceActivityError, OrtSession> {
    return Layer.effect(VoiceActivity, makeSileroDetector(options))
  }

  /** A level gate (RMS in dBFS) with no model: for tests, and as a zero-dependency choice. */
  static energy(options?: EnergyOptions): Layer.Layer<VoiceActivity, VoiceActivityError> {
    return Layer.effect(VoiceActivity, makeEnergyDetector(options))
  }
}
