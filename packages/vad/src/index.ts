/**
 * `@personaplex/vad`: voice activity of the user's input stream, one 80 ms frame at a time.
 *
 * - `VoiceActivity.silero(options?)`: Silero VAD v5 (or v6), the `.onnx` shipped in the pinned
 *   `@ricky0123/vad-web` package, run by onnxruntime through `@personaplex/runtime`'s `OrtSession`
 *   (a worker thread) at 16 kHz; the recurrent state lives in the session, `reset` clears it.
 * - `VoiceActivity.energy(options?)`: a level gate with no model (tests, or no onnxruntime).
 */
export { type EnergyOptions, levelDb } from "./energy.ts"
export { VoiceActivityError } from "./errors.ts"
export type { SpeechGateOptions } from "./SpeechGate.ts"
export { type SileroOptions, type SileroVersion, sileroModelPath } from "./silero.ts"
export {
  EspeakError,
  espeakMissing,
  type ScriptPart,
  type ScriptSpan,
  type SpokenScript,
  speakScript,
} from "./spokenScript.ts"
export { bookingConversation, spanAt, unbrokenMonologue, windowCuts } from "./testing.ts"
export { type FrameActivity, VoiceActivity, type VoiceActivityShape } from "./VoiceActivity.ts"
