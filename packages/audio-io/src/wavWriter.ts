import * as fs from "node:fs"
import { Effect } from "effect"
import { AudioWriteError } from "./errors.ts"
import { encodeSamples, encodeWavHeader, type WavFormat, wavHeaderLength } from "./wav.ts"

/** An open WAV file being appended to; its header always describes the samples written so far. */
export interface WavWriter {
  readonly path: string
  append(channels: ReadonlyArray<Float32Array>): Effect.Effect<void, AudioWriteError>
  readonly sampleFrames: Effect.Effect<number>
}

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * Opens `path` for writing (truncating it) as a scoped resource. Every append writes the samples
 * and then rewrites the header with the new length, so the file on disk is a valid WAV after
 * each append, even if the process dies; closing the scope (on success, failure or
 * interruption) flushes and closes it. Writes are synchronous: one 80 ms frame is 3.8 KB.
 */
export const openWavWriter = (
  path: string,
  format: WavFormat,
): Effect.Effect<WavWriter, AudioWriteError, import("effect").Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          const fd = fs.openSync(path, "w")
          fs.writeSync(fd, encodeWavHeader(format, 0), 0, undefined, 0)
          return { fd, frames: 0 }
        },
        catch: (cause) => new AudioWriteError({ path, reason: reason(cause) }),
      }),
      (file) =>
        Effect.try({
          try: () => {
            fs.writeSync(file.fd, encodeWavHeader(format, file.frames), 0, undefined, 0)
            fs.fsyncSync(file.fd)
            fs.closeSync(file.fd)
          },
          catch: (cause) => new AudioWriteError({ path, reason: `closing: ${reason(cause)}` }),
        }).pipe(Effect.catch((error) => Effect.logError(error.message))),
    ),
    (file): WavWriter => {
      const headerLength = wavHeaderLength(format.encoding)
      const frameBytes = (format.encoding === "pcm16" ? 2 : 4) * format.channels
      return {
        path,
        sampleFrames: Effect.sync(() => file.frames),
        append: (channels) =>
          Effect.try({
            try: () => {
              const body = encodeSamples(channels, format.encoding)
              fs.writeSync(file.fd, body, 0, body.length, headerLength + file.frames * frameBytes)
              file.frames += body.length / frameBytes
              fs.writeSync(file.fd, encodeWavHeader(format, file.frames), 0, undefined, 0)
            },
            catch: (cause) => new AudioWriteError({ path, reason: reason(cause) }),
          }),
      }
    },
  )
