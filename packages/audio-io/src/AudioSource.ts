import { Context, Effect, Layer, Stream } from "effect"
import { AUDIO_FRAME_SIZE } from "./constants.ts"
import { type MicrophoneOptions, openMicrophone } from "./devices.ts"
import { type AudioError, AudioTooShortError } from "./errors.ts"
import { checkFrameLength, toFrames } from "./frames.ts"
import { type LoadOptions, loadMono24k } from "./loadAudio.ts"
import { type Pace, paced } from "./pacer.ts"

/** Where the user's audio comes from: 24 kHz mono 1920-sample frames, the last one zero-padded. */
export interface AudioSourceShape {
  readonly frames: Stream.Stream<Float32Array, AudioError>
}

export interface PaceOptions {
  /** "realtime": one frame per 80 ms (as a microphone delivers); "fast": as fast as pulled. */
  readonly pace?: Pace
}

/** Emits fresh copies so a consumer that edits a frame in place cannot change a later run. */
const replay = (frames: ReadonlyArray<Float32Array>) =>
  Stream.fromIterable(frames).pipe(Stream.map((f) => f.slice()))

export class AudioSource extends Context.Service<AudioSource, AudioSourceShape>()(
  "@personaplex/audio-io/AudioSource",
) {
  /**
   * A WAV file of any rate and channel count, downmixed and resampled to 24 kHz mono. The file is
   * read when the layer is built (so a bad path, a truncated file or one shorter than a frame, an
   * AudioTooShortError, fails there); each run of `frames` replays it, paced in real time unless
   * `pace: "fast"`.
   */
  static wavFile(path: string, options?: PaceOptions & LoadOptions): Layer.Layer<AudioSource, AudioError> {
    return Layer.effect(
      AudioSource,
      Effect.gen(function* () {
        const samples = yield* loadMono24k(path, options)
        if (samples.length < AUDIO_FRAME_SIZE)
          return yield* new AudioTooShortError({ path, samples: samples.length, minimum: AUDIO_FRAME_SIZE })
        return AudioSource.of({ frames: paced(replay(toFrames(samples)), options?.pace ?? "realtime") })
      }),
    )
  }

  /** `frames` frames of digital silence (Infinity for an endless source); "fast" unless paced. */
  static silence(frames: number, options?: PaceOptions): Layer.Layer<AudioSource> {
    const zeros = function* () {
      for (let i = 0; i < frames; i++) yield new Float32Array(AUDIO_FRAME_SIZE)
    }
    return Layer.succeed(
      AudioSource,
      AudioSource.of({
        frames: paced(Stream.fromIterable({ [Symbol.iterator]: zeros }), options?.pace ?? "fast"),
      }),
    )
  }

  /**
   * Frames given in memory (each must be 1920 samples: a wrong length fails the stream with
   * FrameLengthError); "fast" unless paced.
   */
  static fromFrames(frames: Iterable<Float32Array>, options?: PaceOptions): Layer.Layer<AudioSource> {
    const checked = Stream.fromIterable(frames).pipe(
      Stream.mapEffect((frame, index) => {
        const error = checkFrameLength(frame, `AudioSource.fromFrames (frame ${index})`)
        return error ? Effect.fail(error) : Effect.succeed(frame.slice())
      }),
    )
    return Layer.succeed(AudioSource, AudioSource.of({ frames: paced(checked, options?.pace ?? "fast") }))
  }

  /** Any stream of frames, as is (bring your own pacing). */
  static fromStream(frames: Stream.Stream<Float32Array, AudioError>): Layer.Layer<AudioSource> {
    return Layer.succeed(AudioSource, AudioSource.of({ frames }))
  }

  /**
   * A real capture device through the optional `node-web-audio-api` package. The device is chosen
   * when the layer is built (failing with AudioDeviceSupportMissingError when the package cannot
   * load, AudioDeviceUnavailableError when no usable input exists); capture starts when `frames`
   * is run and stops when that run ends.
   */
  static microphone(options?: MicrophoneOptions): Layer.Layer<AudioSource, AudioError> {
    return Layer.effect(
      AudioSource,
      Effect.map(openMicrophone(options), (frames) => AudioSource.of({ frames })),
    )
  }
}
