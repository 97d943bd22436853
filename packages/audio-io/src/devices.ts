import { Duration, Effect, Metric, Queue, type Scope, Stream } from "effect"
import { AUDIO_FRAME_SIZE, AUDIO_SAMPLE_RATE } from "./constants.ts"
import {
  AudioDeviceSupportMissingError,
  AudioDeviceUnavailableError,
  type AudioError,
  SampleRateMismatchError,
} from "./errors.ts"
import { makeFramer } from "./frames.ts"
import { AudioMetrics } from "./metrics.ts"

// The few members of node-web-audio-api used here, typed structurally: the package is an optional
// dependency (its own typings also need the DOM lib), so nothing here may depend on its types.
export interface DeviceInfo {
  readonly deviceId: string
  readonly label: string
  readonly kind: string
}
export interface AudioBufferLike {
  readonly length: number
  copyFromChannel(destination: Float32Array, channel: number): void
  copyToChannel(source: Float32Array, channel: number): void
}
export interface AudioNodeLike {
  connect(destination: AudioNodeLike): unknown
  disconnect(): void
}
export interface BufferSourceLike extends AudioNodeLike {
  buffer: AudioBufferLike | null
  start(when?: number): void
}
export interface ScriptProcessorLike extends AudioNodeLike {
  onaudioprocess: ((event: { readonly inputBuffer: AudioBufferLike }) => void) | null
}
export interface MediaStreamLike {
  getTracks?(): ReadonlyArray<{ stop(): void }>
}
export interface AudioContextLike {
  readonly sampleRate: number
  readonly currentTime: number
  readonly destination: AudioNodeLike
  createBuffer(channels: number, length: number, sampleRate: number): AudioBufferLike
  createBufferSource(): BufferSourceLike
  createMediaStreamSource(stream: MediaStreamLike): AudioNodeLike
  createScriptProcessor(bufferSize: number, inputs: number, outputs: number): ScriptProcessorLike
  close(): Promise<void>
}
export interface WebAudioModule {
  readonly AudioContext: new (options: {
    sampleRate?: number
    latencyHint?: "interactive" | "balanced" | "playback"
    sinkId?: string | { type: "none" }
  }) => AudioContextLike
  readonly mediaDevices: {
    enumerateDevices(): Promise<ReadonlyArray<DeviceInfo>>
    getUserMedia(constraints: { audio: { deviceId: string } }): Promise<MediaStreamLike>
  }
}

const DEVICE_PACKAGE = "node-web-audio-api"

const describe = (cause: unknown) =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

/** Loads the optional audio package named `specifier` (exported for tests of the missing-package path). */
export const loadDeviceSupportFrom = (
  specifier: string,
): Effect.Effect<WebAudioModule, AudioDeviceSupportMissingError> =>
  Effect.tryPromise({
    // A variable specifier keeps bundlers and type-checkers from requiring the optional package.
    try: () => import(/* @vite-ignore */ specifier) as Promise<WebAudioModule>,
    catch: (cause) =>
      new AudioDeviceSupportMissingError({
        reason: `the optional dependency "${specifier}" could not be loaded (${describe(cause)}); install it (it needs Node >= 22 and, on Linux, libasound2)`,
      }),
  })

/** Loads node-web-audio-api; fails with AudioDeviceSupportMissingError when it is not installed or cannot load. */
export const loadDeviceSupport: Effect.Effect<WebAudioModule, AudioDeviceSupportMissingError> =
  loadDeviceSupportFrom(DEVICE_PACKAGE)

/** ALSA's "null" PCM: accepts and produces silence, without a clock. Not a real device. */
const isNullDevice = (device: DeviceInfo) => /discard all samples/i.test(device.label)

/** Lists capture and playback devices as node-web-audio-api sees them (for `--list-devices` style UIs). */
export const listAudioDevices: Effect.Effect<
  ReadonlyArray<DeviceInfo & { readonly isNull: boolean }>,
  AudioError
> = Effect.flatMap(loadDeviceSupport, (audio) =>
  Effect.tryPromise({
    try: () => audio.mediaDevices.enumerateDevices(),
    catch: (cause) =>
      new AudioDeviceUnavailableError({
        device: "microphone",
        reason: `enumerating devices: ${describe(cause)}`,
      }),
  }).pipe(Effect.map((devices) => devices.map((d) => ({ ...d, isNull: isNullDevice(d) })))),
)

export interface MicrophoneOptions {
  /** A `deviceId` from `listAudioDevices`; default: the first input that is not the ALSA null device. */
  readonly deviceId?: string
  /** Accept ALSA's null input (endless silence) when nothing else exists: for plumbing tests. */
  readonly allowNullDevice?: boolean
  /** Frames held for a slow consumer before the oldest are dropped (default 50, i.e. 4 s). */
  readonly bufferFrames?: number
}

/**
 * Chooses a capture device now and returns the stream that captures from it while it runs.
 * getUserMedia is always given an explicit device id: on a machine without a default input,
 * node-web-audio-api 2.2.0 aborts the whole process (a Rust panic) instead of throwing.
 */
export const openMicrophone = (
  options?: MicrophoneOptions,
): Effect.Effect<Stream.Stream<Float32Array, AudioError>, AudioError> =>
  Effect.flatMap(loadDeviceSupport, (audio) => openMicrophoneWith(audio, options))

/** `openMicrophone` over any implementation of the Web Audio subset above (tests pass a fake one). */
export const openMicrophoneWith = (
  audio: WebAudioModule,
  options?: MicrophoneOptions,
): Effect.Effect<Stream.Stream<Float32Array, AudioError>, AudioError> =>
  Effect.gen(function* () {
    const unavailable = (reason: string) => new AudioDeviceUnavailableError({ device: "microphone", reason })
    const devices = yield* Effect.tryPromise({
      try: () => audio.mediaDevices.enumerateDevices(),
      catch: (cause) => unavailable(`enumerating devices: ${describe(cause)}`),
    })
    const inputs = devices.filter((d) => d.kind === "audioinput")
    const chosen =
      options?.deviceId !== undefined
        ? inputs.find((d) => d.deviceId === options.deviceId)
        : (inputs.find((d) => !isNullDevice(d)) ?? (options?.allowNullDevice ? inputs[0] : undefined))
    if (chosen === undefined)
      return yield* unavailable(
        options?.deviceId !== undefined
          ? `no input device with id ${options.deviceId} (inputs: ${inputs.map((d) => `${d.deviceId} "${d.label}"`).join(", ") || "none"})`
          : inputs.length === 0
            ? "the audio system lists no input devices"
            : "only ALSA's null input exists (no sound card); pass allowNullDevice to capture its silence",
      )
    const bufferFrames = options?.bufferFrames ?? 50
    const capture = (queue: Queue.Queue<Float32Array, AudioError | import("effect").Cause.Done>) =>
      Effect.flatMap(Effect.context<never>(), (context) =>
        Effect.acquireRelease(
          Effect.tryPromise({
            try: async () => {
              const media = await audio.mediaDevices.getUserMedia({ audio: { deviceId: chosen.deviceId } })
              const audioContext = new audio.AudioContext({
                sampleRate: AUDIO_SAMPLE_RATE,
                latencyHint: "interactive",
                sinkId: { type: "none" },
              })
              const input = audioContext.createMediaStreamSource(media)
              const processor = audioContext.createScriptProcessor(2048, 1, 1)
              const framer = makeFramer()
              processor.onaudioprocess = ({ inputBuffer }) => {
                const block = new Float32Array(inputBuffer.length)
                inputBuffer.copyFromChannel(block, 0)
                for (const frame of framer.push(block)) {
                  if (Queue.sizeUnsafe(queue) >= bufferFrames)
                    AudioMetrics.microphoneDroppedFrames.updateUnsafe(1, context)
                  Queue.offerUnsafe(queue, frame)
                }
              }
              input.connect(processor)
              // A ScriptProcessor only runs while connected to the graph's output (here a null sink).
              processor.connect(audioContext.destination)
              return { media, audioContext, input, processor }
            },
            catch: (cause) => unavailable(`opening "${chosen.label}": ${describe(cause)}`),
          }),
          ({ media, audioContext, input, processor }) =>
            Effect.promise(async () => {
              processor.onaudioprocess = null
              input.disconnect()
              processor.disconnect()
              for (const track of media.getTracks?.() ?? []) track.stop()
              await audioContext.close()
            }).pipe(Effect.ignore),
        ),
      )
    return Stream.callback<Float32Array, AudioError>(capture, {
      bufferSize: bufferFrames,
      strategy: "sliding",
    })
  })

export interface SpeakerOptions {
  /** A `deviceId` from `listAudioDevices`, or "none" for a clocked sink that plays nowhere; default: the system default output. */
  readonly deviceId?: string
  /** The rate of the frames you will write; only 24000 is accepted (frames are never resampled on the way out). */
  readonly sampleRate?: number
  /** Audio scheduled ahead of the device clock before `write` waits (default 400 ms). */
  readonly maxBufferedMs?: number
  /** Delay before the first frame plays, absorbing jitter between writes (default 100 ms). */
  readonly startDelayMs?: number
}

export interface Speaker {
  write(frame: Float32Array): Effect.Effect<void>
  /** Seconds of audio scheduled but not yet played. */
  readonly buffered: Effect.Effect<number>
}

/**
 * Opens a playback context (scoped). Frames are scheduled back to back on the device clock; when a
 * gap occurs (the producer was late) playback restarts `startDelayMs` after "now". Closing the
 * scope waits for what is scheduled (at most `maxBufferedMs`) and closes the device.
 */
export const openSpeaker = (options?: SpeakerOptions): Effect.Effect<Speaker, AudioError, Scope.Scope> =>
  // The rate is checked before loading, so a wrong rate is reported even where no device support exists.
  Effect.andThen(
    checkSpeakerRate(options),
    Effect.flatMap(loadDeviceSupport, (audio) => openSpeakerWith(audio, options)),
  )

const checkSpeakerRate = (options?: SpeakerOptions) =>
  options?.sampleRate !== undefined && options.sampleRate !== AUDIO_SAMPLE_RATE
    ? Effect.fail(
        new SampleRateMismatchError({
          where: "AudioSink.speaker",
          expected: AUDIO_SAMPLE_RATE,
          actual: options.sampleRate,
        }),
      )
    : Effect.void

/** `openSpeaker` over any implementation of the Web Audio subset above (tests pass a fake one). */
export const openSpeakerWith = (
  audio: WebAudioModule,
  options?: SpeakerOptions,
): Effect.Effect<Speaker, AudioError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* checkSpeakerRate(options)
    const unavailable = (reason: string) => new AudioDeviceUnavailableError({ device: "speaker", reason })
    const sinkId = options?.deviceId === "none" ? ({ type: "none" } as const) : options?.deviceId
    const context = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new audio.AudioContext({
            sampleRate: AUDIO_SAMPLE_RATE,
            latencyHint: "interactive",
            ...(sinkId !== undefined ? { sinkId } : {}),
          }),
        catch: (cause) =>
          unavailable(`opening ${options?.deviceId ?? "the default output"}: ${describe(cause)}`),
      }),
      (context) => Effect.promise(() => context.close()).pipe(Effect.ignore),
    )
    if (context.sampleRate !== AUDIO_SAMPLE_RATE)
      return yield* new SampleRateMismatchError({
        where: "AudioSink.speaker (device context)",
        expected: AUDIO_SAMPLE_RATE,
        actual: context.sampleRate,
      })
    const maxBuffered = (options?.maxBufferedMs ?? 400) / 1000
    const startDelay = (options?.startDelayMs ?? 100) / 1000
    const frameSeconds = AUDIO_FRAME_SIZE / AUDIO_SAMPLE_RATE
    let nextStart = 0
    const buffered = Effect.sync(() => Math.max(0, nextStart - context.currentTime))
    // Let what is scheduled play out before the context closes (finalizers run in reverse order).
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(buffered, (seconds) =>
        Effect.sleep(Duration.millis(Math.min(seconds, maxBuffered) * 1000)),
      ),
    )
    const write = (frame: Float32Array) =>
      Effect.flatMap(buffered, (ahead) => {
        const wait = ahead + frameSeconds - maxBuffered
        return wait > 0 ? Effect.sleep(Duration.millis(wait * 1000)) : Effect.void
      }).pipe(
        Effect.andThen(
          Effect.suspend(() => {
            const buffer = context.createBuffer(1, AUDIO_FRAME_SIZE, AUDIO_SAMPLE_RATE)
            buffer.copyToChannel(frame, 0)
            const node = context.createBufferSource()
            node.buffer = buffer
            node.connect(context.destination)
            const now = context.currentTime
            const underrun = nextStart > 0 && nextStart <= now
            const at = nextStart > now ? nextStart : now + startDelay
            node.start(at)
            nextStart = at + frameSeconds
            return underrun ? Metric.update(AudioMetrics.speakerUnderruns, 1) : Effect.void
          }),
        ),
      )
    return { write, buffered }
  })
