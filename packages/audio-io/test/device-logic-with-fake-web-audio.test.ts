import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  type AudioContextLike,
  type DeviceInfo,
  openMicrophoneWith,
  openSpeakerWith,
  type ScriptProcessorLike,
  type WebAudioModule,
} from "../src/devices.ts"
import { AUDIO_FRAME_SIZE, AudioMetrics } from "../src/index.ts"

// A scripted stand-in for node-web-audio-api: the test sets the device clock and delivers capture
// blocks itself, so scheduling, regrouping, dropping and error paths are checked deterministically.
const nullInput: DeviceInfo = {
  deviceId: "n1",
  label: "Discard all samples (playback) or generate zero samples (capture)",
  kind: "audioinput",
}
const usbInput: DeviceInfo = { deviceId: "usb", label: "USB Microphone", kind: "audioinput" }
const output: DeviceInfo = { deviceId: "o1", label: "Speakers", kind: "audiooutput" }

const fakeWebAudio = (
  devices: ReadonlyArray<DeviceInfo>,
  behaviour?: { contextError?: string; contextRate?: number },
) => {
  const state = {
    time: 0,
    started: [] as Array<number>,
    processors: [] as Array<ScriptProcessorLike>,
    userMedia: [] as Array<unknown>,
    contextOptions: [] as Array<unknown>,
    closed: 0,
  }
  const node = () => ({ connect: () => undefined, disconnect: () => undefined })
  class FakeContext implements AudioContextLike {
    readonly sampleRate: number
    readonly destination = node()
    constructor(options: { sampleRate?: number }) {
      if (behaviour?.contextError) throw new Error(behaviour.contextError)
      state.contextOptions.push(options)
      this.sampleRate = behaviour?.contextRate ?? options.sampleRate ?? 48000
    }
    get currentTime() {
      return state.time
    }
    createBuffer(_channels: number, length: number) {
      const data = new Float32Array(length)
      return {
        length,
        copyFromChannel: (d: Float32Array) => d.set(data),
        copyToChannel: (s: Float32Array) => data.set(s),
      }
    }
    createBufferSource() {
      return { ...node(), buffer: null, start: (at?: number) => void state.started.push(at ?? 0) }
    }
    createMediaStreamSource() {
      return node()
    }
    createScriptProcessor() {
      const processor: ScriptProcessorLike = { ...node(), onaudioprocess: null }
      state.processors.push(processor)
      return processor
    }
    async close() {
      state.closed++
    }
  }
  const module: WebAudioModule = {
    AudioContext: FakeContext,
    mediaDevices: {
      enumerateDevices: async () => devices,
      getUserMedia: async (constraints) => {
        state.userMedia.push(constraints)
        return { getTracks: () => [] }
      },
    },
  }
  /** Delivers one capture block to the running processor, as the audio thread would. */
  const deliver = (block: Float32Array) =>
    state.processors.at(-1)!.onaudioprocess!({
      inputBuffer: {
        length: block.length,
        copyFromChannel: (d) => d.set(block),
        copyToChannel: () => undefined,
      },
    })
  return { module, state, deliver }
}

const ramp = (from: number, length: number) => Float32Array.from({ length }, (_, i) => from + i)

/** Waits (in fiber steps, not time) until the capture has opened its processor. */
const untilCapturing = (state: { processors: Array<unknown> }) =>
  Effect.gen(function* () {
    while (state.processors.length === 0) yield* Effect.yieldNow
  })

describe("microphone logic (fake Web Audio)", () => {
  it.effect("picks the first real input, always by explicit id, in a 24 kHz context with no output", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([nullInput, usbInput, output])
      const frames = yield* openMicrophoneWith(fake.module)
      const fiber = yield* Stream.runCollect(Stream.take(frames, 1)).pipe(Effect.forkChild)
      yield* untilCapturing(fake.state)
      fake.deliver(new Float32Array(2048))
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(fake.state.userMedia, [{ audio: { deviceId: "usb" } }])
      assert.deepStrictEqual(fake.state.contextOptions, [
        { sampleRate: 24000, latencyHint: "interactive", sinkId: { type: "none" } },
      ])
      assert.strictEqual(fake.state.closed, 1) // released once the consumer stopped
    }),
  )

  it.effect("regroups 2048-sample device blocks into 1920-sample frames, in order", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([usbInput])
      const frames = yield* openMicrophoneWith(fake.module)
      const fiber = yield* Stream.runCollect(Stream.take(frames, 3)).pipe(Effect.forkChild)
      yield* untilCapturing(fake.state)
      for (let b = 0; b < 3; b++) fake.deliver(ramp(b * 2048, 2048))
      const got = yield* Fiber.join(fiber)
      assert.strictEqual(got.length, 3)
      for (const [i, frame] of got.entries())
        assert.deepStrictEqual(frame, ramp(i * AUDIO_FRAME_SIZE, AUDIO_FRAME_SIZE))
    }),
  )

  it.effect("a consumer that falls behind gets the newest frames; the dropped ones are counted", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([usbInput])
      const before = (yield* Metric.value(AudioMetrics.microphoneDroppedFrames)).count
      const frames = yield* openMicrophoneWith(fake.module, { bufferFrames: 2 })
      let seen = 0
      const stallOnFirst = () => (seen++ === 0 ? Effect.sleep("1 second") : Effect.void)
      const fiber = yield* Stream.runCollect(Stream.take(frames, 3).pipe(Stream.tap(stallOnFirst))).pipe(
        Effect.forkChild,
      )
      yield* untilCapturing(fake.state)
      fake.deliver(ramp(0, AUDIO_FRAME_SIZE))
      while (seen === 0) yield* Effect.yieldNow
      for (let f = 1; f < 6; f++) fake.deliver(ramp(f * AUDIO_FRAME_SIZE, AUDIO_FRAME_SIZE))
      yield* TestClock.adjust("1 second")
      const got = yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        got.map((frame) => frame[0]! / AUDIO_FRAME_SIZE),
        [0, 4, 5],
      )
      const dropped =
        Number((yield* Metric.value(AudioMetrics.microphoneDroppedFrames)).count) - Number(before)
      assert.strictEqual(dropped, 3)
    }),
  )

  it.effect("only ALSA's null input: unavailable unless allowNullDevice", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([nullInput, output])
      const error = yield* Effect.flip(openMicrophoneWith(fake.module))
      assert.strictEqual(error._tag, "AudioDeviceUnavailableError")
      assert.include(error.message, "allowNullDevice")
      yield* openMicrophoneWith(fake.module, { allowNullDevice: true })
      const none = yield* Effect.flip(openMicrophoneWith(fakeWebAudio([output]).module))
      assert.include(none.message, "no input devices")
    }),
  )

  it.effect("an unknown device id names the inputs that exist", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        openMicrophoneWith(fakeWebAudio([usbInput]).module, { deviceId: "gone" }),
      )
      assert.strictEqual(error._tag, "AudioDeviceUnavailableError")
      assert.include(error.message, "gone")
      assert.include(error.message, "USB Microphone")
    }),
  )
})

describe("speaker logic (fake Web Audio)", () => {
  const silence = new Float32Array(AUDIO_FRAME_SIZE)

  it.effect("schedules frames back to back after the start delay; a late frame is an underrun", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([output])
      const before = Number((yield* Metric.value(AudioMetrics.speakerUnderruns)).count)
      const scope = yield* Scope.make()
      const speaker = yield* openSpeakerWith(fake.module).pipe(Scope.provide(scope))
      for (let i = 0; i < 3; i++) yield* speaker.write(silence)
      assert.deepStrictEqual(
        fake.state.started.map((t) => Math.round(t * 1000)),
        [100, 180, 260],
      )
      fake.state.time = 1
      yield* speaker.write(silence)
      assert.strictEqual(Math.round(fake.state.started[3]! * 1000), 1100)
      assert.strictEqual(Number((yield* Metric.value(AudioMetrics.speakerUnderruns)).count) - before, 1)
      // Closing lets the scheduled 180 ms play out (virtual time), then closes the device.
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.forkChild)
      yield* TestClock.adjust("180 millis")
      yield* Fiber.join(closing)
      assert.strictEqual(fake.state.closed, 1)
    }),
  )

  it.effect("write waits while more than maxBufferedMs is queued", () =>
    Effect.gen(function* () {
      const fake = fakeWebAudio([output])
      const speaker = yield* openSpeakerWith(fake.module, { maxBufferedMs: 400 })
      for (let i = 0; i < 3; i++) yield* speaker.write(silence) // queued up to 340 ms
      const fourth = yield* speaker.write(silence).pipe(Effect.forkChild)
      yield* TestClock.adjust("19 millis")
      assert.strictEqual(fake.state.started.length, 3) // 420 ms would be queued: it waits 20 ms
      fake.state.time = 0.02
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fourth)
      assert.strictEqual(Math.round(fake.state.started[3]! * 1000), 340)
      fake.state.time = 10 // let the scope close without waiting
    }),
  )

  it.effect(
    "a device that cannot open is AudioDeviceUnavailableError; a context not at 24 kHz is refused",
    () =>
      Effect.gen(function* () {
        const unavailable = yield* Effect.flip(
          openSpeakerWith(fakeWebAudio([], { contextError: "DeviceUnavailable" }).module, { deviceId: "o1" }),
        )
        assert.strictEqual(unavailable._tag, "AudioDeviceUnavailableError")
        assert.include(unavailable.message, "o1")
        assert.include(unavailable.message, "DeviceUnavailable")
        const wrongRate = yield* Effect.flip(
          openSpeakerWith(fakeWebAudio([output], { contextRate: 44100 }).module),
        )
        assert.strictEqual(wrongRate._tag, "SampleRateMismatchError")
        assert.include(wrongRate.message, "44100")
      }),
  )
})
