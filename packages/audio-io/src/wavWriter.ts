import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Effect, Exit, type Scope } from "effect"
import { AudioWriteError } from "./errors.ts"
import { encodeSamples, encodeWavHeader, type WavFormat, wavHeaderLength } from "./wav.ts"

/** An open WAV file being appended to; its header always describes the samples written so far. */
export interface WavWriter {
  readonly path: string
  append(channels: ReadonlyArray<Float32Array>): Effect.Effect<void, AudioWriteError>
  readonly sampleFrames: Effect.Effect<number>
}

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** A name in the target's own folder (so the rename onto the target is atomic), hidden and unique. */
const tempNameFor = (path: string) =>
  nodePath.join(
    nodePath.dirname(path),
    `.${nodePath.basename(path)}.${process.pid}-${crypto.randomBytes(4).toString("hex")}.partial`,
  )

/**
 * Opens a WAV file at `path` as a scoped resource. Nothing at `path` changes before the first
 * samples are written: the header goes to a temporary file beside it, which replaces `path` at the
 * first append (an earlier file there survives a run that produces nothing). Every append writes
 * the samples and then rewrites the header with the new length, so the file on disk is a valid WAV
 * after each append, even if the process dies; closing the scope flushes and closes it. A scope
 * that closes with nothing appended renames the (empty) file into place on success and removes it
 * on failure or interruption. Writes are synchronous: one 80 ms frame is 3.8 KB.
 */
export const openWavWriter = (
  path: string,
  format: WavFormat,
): Effect.Effect<WavWriter, AudioWriteError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          if (fs.existsSync(path) && fs.statSync(path).isDirectory()) throw new Error("it is a folder")
          const temp = tempNameFor(path)
          const fd = fs.openSync(temp, "w")
          fs.writeSync(fd, encodeWavHeader(format, 0), 0, undefined, 0)
          return { fd, frames: 0, temp: temp as string | undefined }
        },
        catch: (cause) => new AudioWriteError({ path, reason: reason(cause) }),
      }),
      (file, exit) =>
        Effect.try({
          try: () => {
            fs.writeSync(file.fd, encodeWavHeader(format, file.frames), 0, undefined, 0)
            fs.fsyncSync(file.fd)
            fs.closeSync(file.fd)
            if (file.temp !== undefined) {
              if (Exit.isSuccess(exit)) fs.renameSync(file.temp, path)
              else fs.rmSync(file.temp, { force: true })
            }
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
              // The first samples exist: now the file takes the target's name (the fd follows it).
              if (file.temp !== undefined && file.frames > 0) {
                fs.renameSync(file.temp, path)
                file.temp = undefined
              }
            },
            catch: (cause) => new AudioWriteError({ path, reason: reason(cause) }),
          }),
      }
    },
  )
