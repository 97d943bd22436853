import type { LoopEvent, RunReport } from "@personaplex/loop"
import { Effect } from "effect"

const FRAME_SECONDS = 0.08

const clock = (seconds: number) => {
  const m = Math.floor(seconds / 60)
  const s = seconds - m * 60
  return `${String(m).padStart(2, "0")}:${s.toFixed(1).padStart(4, "0")}`
}

const shorten = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

export interface ProgressOptions {
  /** Rewrite one status line in place (a terminal); otherwise print one line per window event. */
  readonly live: boolean
  readonly write: (text: string) => void
  readonly now?: () => number
}

/**
 * The progress display of a run: window, elapsed audio, real-time factor, late frames; plus a
 * line per window start and switch.
 */
export const makeProgress = (options: ProgressOptions) => {
  const now = options.now ?? (() => performance.now())
  let started = now()
  let window = 0
  let inputFrames = 0
  let late = 0
  let lastDraw = 0
  let statusShown = false

  const status = () => {
    const wall = (now() - started) / 1000
    const audio = inputFrames * FRAME_SECONDS
    const rtf = audio > 0 ? wall / audio : 0
    return `window ${window + 1} · ${clock(audio)} of input · elapsed ${clock(wall)} · RTF ${rtf.toFixed(2)} · late frames ${late}`
  }
  const line = (text: string) => {
    if (statusShown) options.write("\r\x1b[2K")
    statusShown = false
    options.write(`${text}\n`)
  }

  const onEvent = (event: LoopEvent): Effect.Effect<void> =>
    Effect.sync(() => {
      switch (event._tag) {
        case "RunStarted":
          started = now()
          break
        case "WindowStarted":
          window = event.window
          line(
            `▶ window ${event.window + 1}: ${event.promptSource} prompt, ${event.promptTokens} tokens, injected in ${event.promptMs.toFixed(0)} ms`,
          )
          break
        case "FrameProcessed": {
          inputFrames++
          const t = now()
          if (options.live && t - lastDraw > 100) {
            lastDraw = t
            options.write(`\r\x1b[2K${status()}`)
            statusShown = true
          }
          break
        }
        case "LateFrame":
          late++
          break
        case "WindowEnded":
          line(
            `■ window ${event.window + 1}: ${event.inputFrames} frames · "${shorten(event.agentText.trim(), 60)}"`,
          )
          if (!options.live) line(`  ${status()}`)
          break
        case "SwitchEnded":
          line(
            `… switch (${event.reason}): thinking clip ${event.clipFrames} frames, ${event.silenceFrames} silence frames, pause ${event.pauseMs.toFixed(0)} ms`,
          )
          break
        case "CompactionEnded":
          line(
            `  compaction${event.stage === "at_switch" ? "" : ` ${event.stage}`} (${event.source}${event.reason ? `: ${event.reason}` : ""}) in ${event.durationMs.toFixed(0)} ms → ${shorten(event.prompt, 80)}`,
          )
          break
        case "RunEnded":
          if (statusShown) options.write("\r\x1b[2K")
          statusShown = false
          break
      }
    })

  return { onEvent }
}

const ms = (x: number) => `${x.toFixed(1)} ms`

/**
 * The device line: the requested device, then the provider each model's sessions were opened on
 * (the report's `meta.lm` and `meta.codec`), and whether that is a fallback (Mimi's device is
 * `meta.codecDevice` where the config put it apart).
 */
export const deviceLine = (meta: RunReport["meta"]): string => {
  const requested = String(meta.device ?? "cpu")
  const lm = meta.lm as { readonly engine?: string; readonly provider?: string } | undefined
  const codec = meta.codec as
    | { readonly encoder?: string; readonly decoder?: string; readonly form?: string }
    | undefined
  if (lm?.provider === undefined || codec?.encoder === undefined) return `requested ${requested}`
  const mimi =
    codec.encoder === codec.decoder
      ? `Mimi on ${codec.encoder} (${codec.form})`
      : `Mimi's encoder on ${codec.encoder}, its decoder on ${codec.decoder} (${codec.form})`
  const codecRequested = String(meta.codecDevice ?? requested)
  const used = [lm.provider, codec.encoder, codec.decoder]
  const wanted = [requested, codecRequested, codecRequested]
  const fellBack = used.filter((p, i) => p !== wanted[i])
  return [
    `requested ${requested}${codecRequested === requested ? "" : ` (Mimi ${codecRequested})`}; LM on ${lm.provider} (${lm.engine}), ${mimi}`,
    ...(fellBack.length > 0
      ? [
          `: ${fellBack.length === used.length ? "all" : "some"} sessions fell back to ${[...new Set(fellBack)].join(", ")} (see the warning above)`,
        ]
      : []),
  ].join("")
}

/** The end-of-run summary: what was produced, how fast, and where it was written. */
export const formatSummary = (
  report: RunReport,
  files: { readonly output?: string; readonly report: string },
) => {
  const t = report.timings
  const lines = [
    `Run ${report.status}${report.error ? ` (${report.error.split("\n")[0]})` : ""}`,
    `  device         ${deviceLine(report.meta)}`,
    `  windows        ${report.windows.length} (window = ${report.windowFrames} frames = ${(report.windowFrames * FRAME_SECONDS).toFixed(2)} s)`,
    `  input          ${report.inputFrames} frames (${(report.inputFrames * FRAME_SECONDS).toFixed(2)} s)`,
    `  output         ${report.outputFrames} frames (${(report.outputFrames * FRAME_SECONDS).toFixed(2)} s) = input + ${report.switches.length} thinking clip(s) of ${report.switches.some((s) => s.clipCutShort) ? `up to ${report.thinkingClipFrames} frames (cut short once the next window was ready)` : `${report.thinkingClipFrames} frames`}${report.switches.some((s) => s.silenceFrames > 0) ? " + silence" : ""}`,
    `  real-time      RTF ${t.realTimeFactor.toFixed(2)} (wall ${(t.wallMs / 1000).toFixed(2)} s), late frames ${t.lateFrames}${t.firstFrameMs !== undefined ? `, first frame after ${(t.firstFrameMs / 1000).toFixed(2)} s` : ""}`,
    `  per frame      mean ${ms(t.frame.meanMs)}, p50 ${ms(t.frame.p50Ms)}, p95 ${ms(t.frame.p95Ms)}, p99 ${ms(t.frame.p99Ms)}, max ${ms(t.frame.maxMs)} (encode ${ms(t.encode.meanMs)}, LM ${ms(t.step.meanMs)}, decode ${ms(t.decode.meanMs)})`,
    `  pauses         ${
      report.switches.length > 0
        ? report.switches
            .map(
              (s) =>
                `${s.pauseMs.toFixed(0)} ms (${s.reason}, compaction ${s.compactionWaitMs.toFixed(0)} ms of it)`,
            )
            .join(", ")
        : "none"
    }`,
    "  prompts",
    ...report.windows.map((w) => `    ${w.index + 1}. [${w.promptSource}] ${shorten(w.prompt, 100)}`),
    "  transcript",
    ...report.windows.map((w) => `    ${w.index + 1}. ${shorten(w.agentText.trim() || "(no text)", 100)}`),
  ]
  if (files.output !== undefined)
    lines.push(
      report.outputFrames > 0 || report.status === "completed"
        ? `  output audio   ${files.output}`
        : `  output audio   none produced (${files.output} not written)`,
    )
  lines.push(`  run report     ${files.report}`)
  return lines.join("\n")
}
