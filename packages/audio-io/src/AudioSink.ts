import { Context, Effect, Layer, Stream } from "effect"
import { AUDIO_SAMPLE_RATE } from "./constants.ts"
import { openSpeaker, type SpeakerOptions } from "./devices.ts"
import { type AudioError, SampleRateMismatchError } from "./errors.ts"
import { checkFrameLength, concatFrames } from "./frames.ts"
import type { WavEncoding } from "./wav.ts"
import { openWavWriter } from "./wavWriter.ts"

/** Where the agent's audio goes: 24 kHz mono frames of exactly 1920 samples. */
export interface AudioSinkShape {
  /** Fails with FrameLengthError for a frame that is not 1920 samples long (nothing is written). */
  write(frame: Float32Array): Effect.Effect<void, AudioError>
  readonly framesWritten: Effect.Effect<number>
}

/** What a memory sink has received, provided next to the AudioSink by `AudioSink.memory()`. */
export interface MemorySinkShape {
  /** Copies of the frames written so far, in order. */
  readonly frames: Effect.Effect<ReadonlyArray<Float32Array>>
  /** The frames written so far, joined into one signal. */
  readonly samples: Effect.Effect<Float32Array>
  readonly clear: Effect.Effect<void>
}

export class MemorySink extends Context.Service<MemorySink, MemorySinkShape>()(
  "@personaplex/audio-io/MemorySink",
) {}

export interface WavSinkOptions {
  /** Sample encoding of the file (default "pcm16"). */
  readonly encoding?: WavEncoding
  /** The rate of the frames you will write, as a guard: only 24000 is accepted. */
  readonly sampleRate?: number
}

/** Wraps a frame consumer with the frame-length check and a counter. */
const counting = (where: string, consume: (frame: Float32Array) => Effect.Effect<void, AudioError>) => {
  let count = 0
  return {
    write: (frame: Float32Array) => {
      const error = checkFrameLength(frame, where)
      if (error) return Effect.fail(error)
      return Effect.map(consume(frame), () => {
        count++
      })
    },
    framesWritten: Effect.sync(() => count),
  } satisfies AudioSinkShape
}

export class AudioSink extends Context.Service<AudioSink, AudioSinkShape>()(
  "@personaplex/audio-io/AudioSink",
) {
  /**
   * A mono 24 kHz WAV file (scoped). The header is rewritten after every frame and once more when
   * the layer's scope closes, so the file is a complete, valid WAV holding every frame written,
   * whether the scope closes by success, failure or interruption. An existing file at `path` is
   * replaced only once the first frame is written: a run that fails or is interrupted before
   * producing audio leaves it as it was (see `openWavWriter`).
   */
  static wavFile(path: string, options?: WavSinkOptions): Layer.Layer<AudioSink, AudioError> {
    return Layer.effect(
      AudioSink,
      Effect.gen(function* () {
        if (options?.sampleRate !== undefined && options.sampleRate !== AUDIO_SAMPLE_RATE)
          return yield* new SampleRateMismatchError({
            where: `AudioSink.wavFile(${path})`,
            expected: AUDIO_SAMPLE_RATE,
            actual: options.sampleRate,
          })
        const writer = yield* openWavWriter(path, {
          sampleRate: AUDIO_SAMPLE_RATE,
          channels: 1,
          encoding: options?.encoding ?? "pcm16",
        })
        return AudioSink.of(counting(`AudioSink.wavFile(${path})`, (frame) => writer.append([frame])))
      }),
    )
  }

  /** Checks and counts frames, keeps nothing. */
  static get discard(): Layer.Layer<AudioSink> {
    return Layer.sync(AudioSink, () => AudioSink.of(counting("AudioSink.discard", () => Effect.void)))
  }

  /** Keeps copies of every frame in memory; read them back through the MemorySink service. */
  static memory(): Layer.Layer<AudioSink | MemorySink> {
    return Layer.effectContext(
      Effect.sync(() => {
        let frames: Array<Float32Array> = []
        const sink = AudioSink.of(
          counting("AudioSink.memory", (frame) =>
            Effect.sync(() => {
              frames.push(frame.slice())
            }),
          ),
        )
        const memory = MemorySink.of({
          frames: Effect.sync(() => frames.map((f) => f.slice())),
          samples: Effect.sync(() => concatFrames(frames)),
          clear: Effect.sync(() => {
            frames = []
          }),
        })
        return Context.make(AudioSink, sink).pipe(Context.add(MemorySink, memory))
      }),
    )
  }

  /**
   * The system's default output (or `deviceId`) through the optional `node-web-audio-api` package
   * (scoped: closing the scope lets scheduled audio finish, then closes the device).
   */
  static speaker(options?: SpeakerOptions): Layer.Layer<AudioSink, AudioError> {
    return Layer.effect(
      AudioSink,
      Effect.map(openSpeaker(options), (speaker) =>
        AudioSink.of(counting("AudioSink.speaker", speaker.write)),
      ),
    )
  }
}

/** Writes every frame of `frames` to the AudioSink in context. */
export const writeAll = <E, R>(
  frames: Stream.Stream<Float32Array, E, R>,
): Effect.Effect<void, E | AudioError, R | AudioSink> =>
  AudioSink.use((sink) => Stream.runForEach(frames, (frame) => sink.write(frame)))
