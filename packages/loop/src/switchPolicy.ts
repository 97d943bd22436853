import { DEFAULT_PAUSE_MS, FRAME_MS, type SwitchPolicy } from "./options.ts"

/** Why a window ended: its fixed length, a pause of both sides, or the longest window allowed. */
export type SwitchReason = "duration" | "pause" | "max_duration"

/**
 * How long each side has been silent, in frames, as the window goes: the user by the voice
 * activity layer (when there is one), the agent by its text stream (padding, or no tokens yet).
 */
export class SilenceCounter {
  userFrames = 0
  agentFrames = 0

  /** After each frame; `userSpeech` undefined when no voice activity layer listens. */
  frame(userSpeech: boolean | undefined, agentPadding: boolean): void {
    this.userFrames = userSpeech === false ? this.userFrames + 1 : 0
    this.agentFrames = agentPadding ? this.agentFrames + 1 : 0
  }
}

/**
 * Whether the window ends after its `framesInWindow`-th frame, and why; `undefined` to go on.
 * `fixed` ends at `windowFrames`; `pause` waits from there for `pauseMs` of silence of both sides
 * (in whole frames: 400 ms is 5 frames), and ends at `maxWindowFrames` without one.
 */
export const switchReason = (
  policy: SwitchPolicy,
  windowFrames: number,
  framesInWindow: number,
  silence: SilenceCounter,
): SwitchReason | undefined => {
  if (framesInWindow < windowFrames) return undefined
  if (policy.mode === "fixed") return "duration"
  const pauseFrames = Math.ceil((policy.pauseMs ?? DEFAULT_PAUSE_MS) / FRAME_MS)
  if (silence.userFrames >= pauseFrames && silence.agentFrames >= pauseFrames) return "pause"
  return framesInWindow >= policy.maxWindowFrames ? "max_duration" : undefined
}
