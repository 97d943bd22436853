/** What a model fetch reports while it works; render it with `renderProgress` or consume it as a Stream. */
export type ProgressEvent =
  | { readonly _tag: "Listing"; readonly repo: string; readonly endpoint: string }
  /** A request has had no answer for `elapsedMs` so far (sent every few seconds while it waits). */
  | { readonly _tag: "Waiting"; readonly url: string; readonly elapsedMs: number }
  /** A request to the hub failed (unreachable, no answer in time) and is tried again after `delayMs`. */
  | {
      readonly _tag: "RetryingRequest"
      readonly url: string
      readonly attempt: number
      readonly reason: string
      readonly delayMs: number
    }
  | { readonly _tag: "Cached"; readonly file: string; readonly path: string; readonly size: number }
  | { readonly _tag: "Started"; readonly file: string; readonly size: number; readonly resumeFrom: number }
  | { readonly _tag: "Bytes"; readonly file: string; readonly received: number; readonly size: number }
  | {
      readonly _tag: "Retrying"
      readonly file: string
      readonly attempt: number
      readonly resumeFrom: number
      readonly reason: string
    }
  | { readonly _tag: "Verifying"; readonly file: string }
  | { readonly _tag: "Downloaded"; readonly file: string; readonly path: string; readonly size: number }
  | { readonly _tag: "Extracting"; readonly file: string; readonly into: string }

export type ProgressListener = (event: ProgressEvent) => void

const units = ["B", "kB", "MB", "GB", "TB"]
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}

export interface ProgressRendererOptions {
  /** Redraw one line in place (a TTY) or print a line per 10 % (logs, CI). Default: `stream.isTTY`. */
  readonly interactive?: boolean
  readonly width?: number
  readonly now?: () => number
}

/**
 * A terminal renderer for fetch progress: a bar with percentage, size and speed per file.
 * Returns the listener to pass as `onProgress`.
 */
export const renderProgress = (
  stream: { write(text: string): unknown; isTTY?: boolean },
  options: ProgressRendererOptions = {},
): ProgressListener => {
  const interactive = options.interactive ?? stream.isTTY === true
  const width = options.width ?? 30
  const now = options.now ?? Date.now
  let start = { time: now(), bytes: 0 }
  let lastDecile = -1
  const bar = (file: string, received: number, size: number) => {
    const fraction = size > 0 ? Math.min(1, received / size) : 1
    const filled = Math.round(fraction * width)
    const seconds = (now() - start.time) / 1000
    const speed = seconds > 0 ? `${formatBytes((received - start.bytes) / seconds)}/s` : ""
    return `${file} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(received)}/${formatBytes(size)} ${speed}`
  }
  return (event) => {
    switch (event._tag) {
      case "Listing":
        stream.write(`Listing ${event.repo} on ${event.endpoint}\n`)
        return
      case "Waiting":
        stream.write(
          `waiting for the hub… ${(event.elapsedMs / 1000).toFixed(0)} s without an answer (${event.url})\n`,
        )
        return
      case "RetryingRequest":
        stream.write(
          `${event.url}: ${event.reason}; retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)} s\n`,
        )
        return
      case "Cached":
        stream.write(`${event.file}: cached (${formatBytes(event.size)})\n`)
        return
      case "Started":
        start = { time: now(), bytes: event.resumeFrom }
        lastDecile = -1
        if (event.resumeFrom > 0)
          stream.write(`${event.file}: resuming at ${formatBytes(event.resumeFrom)}\n`)
        return
      case "Bytes": {
        if (interactive) {
          stream.write(`\r${bar(event.file, event.received, event.size)}\u001b[K`)
          return
        }
        const decile = event.size > 0 ? Math.floor((10 * event.received) / event.size) : 10
        if (decile !== lastDecile) stream.write(`${bar(event.file, event.received, event.size)}\n`)
        lastDecile = decile
        return
      }
      case "Retrying":
        stream.write(
          `${interactive ? "\n" : ""}${event.file}: connection lost (${event.reason}); retry ${event.attempt} from ${formatBytes(event.resumeFrom)}\n`,
        )
        return
      case "Verifying":
        if (interactive) stream.write("\n")
        stream.write(`${event.file}: verifying\n`)
        return
      case "Downloaded":
        stream.write(`${event.file}: done (${formatBytes(event.size)})\n`)
        return
      case "Extracting":
        stream.write(`${event.file}: extracting into ${event.into}\n`)
        return
    }
  }
}
