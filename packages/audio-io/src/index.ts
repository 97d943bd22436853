export {
  AudioSink,
  type AudioSinkShape,
  MemorySink,
  type MemorySinkShape,
  type WavSinkOptions,
  writeAll,
} from "./AudioSink.ts"
export { AudioSource, type AudioSourceShape, type PaceOptions } from "./AudioSource.ts"
export { assets } from "./assets.ts"
export { AUDIO_FRAME_SIZE, AUDIO_SAMPLE_RATE, FRAME_DURATION } from "./constants.ts"
export {
  type DeviceInfo,
  listAudioDevices,
  loadDeviceSupport,
  type MicrophoneOptions,
  type SpeakerOptions,
  type WebAudioModule,
} from "./devices.ts"
export {
  AudioDeviceSupportMissingError,
  AudioDeviceUnavailableError,
  type AudioError,
  AudioFileNotFoundError,
  AudioFileReadError,
  AudioTooShortError,
  AudioWriteError,
  EmptyAudioError,
  FrameLengthError,
  NotAWavError,
  ResampleError,
  SampleRateMismatchError,
  TruncatedWavError,
  UnsupportedWavEncodingError,
  type WavReadError,
} from "./errors.ts"
export { checkFrameLength, concatFrames, makeFramer, toFrames } from "./frames.ts"
export { type LoadOptions, loadFrames, loadMono24k, loadThinkingClip } from "./loadAudio.ts"
export { AudioMetrics } from "./metrics.ts"
export { type Pace, paced } from "./pacer.ts"
export {
  downmix,
  openResampler,
  type ResampleQuality,
  resample,
  resampledLength,
  resampleTo24k,
  type StreamingResampler,
} from "./resample.ts"
export {
  decodeWav,
  encodeWav,
  encodeWavHeader,
  readWav,
  type WavAudio,
  type WavEncoding,
  type WavFormat,
  writeWav,
} from "./wav.ts"
export { openWavWriter, type WavWriter } from "./wavWriter.ts"
