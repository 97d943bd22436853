import { Metric } from "effect"

/** audio-io's Effect metrics (read them with `Metric.value` or any metrics exporter). */
export const AudioMetrics = {
  /** Captured frames thrown away because the consumer fell more than `bufferFrames` behind. */
  microphoneDroppedFrames: Metric.counter("personaplex_audio_microphone_dropped_frames", {
    description: "microphone frames dropped because the consumer was too slow",
  }),
  /** Times the speaker ran dry between two frames (the producer was late), so playback restarted. */
  speakerUnderruns: Metric.counter("personaplex_audio_speaker_underruns", {
    description: "gaps in speaker playback caused by late frames",
  }),
}
