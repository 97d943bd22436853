import type { CompactionEvent, PromptSource, ServerEvent, StatsEvent } from "../shared/events.ts"

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

interface WindowSpan {
  index: number
  startMs: number
  endMs: number | undefined
}

/** Everything the page shows about the conversation, rebuilt from protocol messages and events. */
export class ConversationView {
  private windows: WindowSpan[] = []
  private compactions: CompactionEvent[] = []
  private currentWindow = 0
  private paragraphs = new Map<number, HTMLParagraphElement>()
  private latest: HTMLSpanElement | undefined
  private handshakeAt = 0
  textPieces = 0
  eventsSeen = 0

  reset() {
    this.windows = []
    this.compactions = []
    this.currentWindow = 0
    this.paragraphs.clear()
    this.latest = undefined
    this.textPieces = 0
    this.eventsSeen = 0
    $("transcript").replaceChildren()
    $("timeline").replaceChildren()
    $("switches").querySelector("tbody")!.replaceChildren()
    for (const id of ["m-latency", "m-rtf", "m-window", "m-audio", "m-pause", "m-dropped"])
      $(id).textContent = "–"
  }

  status(text: string, kind: "idle" | "connecting" | "live" | "error") {
    const pill = $("status")
    pill.textContent = text
    pill.className = `pill ${kind}`
  }

  error(message: string | undefined) {
    const el = $("error")
    el.hidden = message === undefined
    el.textContent = message ?? ""
  }

  /** The place in the server's line (every conversation slot taken); `undefined` hides it. */
  queue(event: { position: number; maxSessions: number; waitTimeoutMs: number } | undefined) {
    const el = $("queue")
    el.hidden = event === undefined
    el.textContent =
      event === undefined
        ? ""
        : `All ${event.maxSessions} conversation slot(s) are taken: you are number ${event.position} in line (the server waits up to ${Math.round(event.waitTimeoutMs / 1000)} s).`
  }

  connected() {
    this.handshakeAt = performance.now()
    this.windows = [{ index: 0, startMs: 0, endMs: undefined }]
    this.renderTimeline()
  }

  private paragraph(index: number): HTMLParagraphElement {
    let p = this.paragraphs.get(index)
    if (p === undefined) {
      $("transcript").querySelector(".placeholder")?.remove()
      p = document.createElement("p")
      const label = document.createElement("span")
      label.className = "win-label"
      label.textContent = `window ${index}`
      p.append(label)
      $("transcript").append(p)
      this.paragraphs.set(index, p)
      for (const [i, other] of this.paragraphs) other.classList.toggle("current", i === index)
    }
    return p
  }

  text(piece: string) {
    this.textPieces++
    this.latest?.classList.remove("latest")
    const span = document.createElement("span")
    span.className = "latest"
    span.textContent = piece
    this.paragraph(this.currentWindow).append(span)
    this.latest = span
    const body = $("transcript")
    body.scrollTop = body.scrollHeight
  }

  event(event: ServerEvent) {
    this.eventsSeen++
    switch (event.type) {
      case "prompt":
        return this.prompt(event.prompt, event.source)
      case "window":
        if (event.phase === "start") {
          this.currentWindow = event.index
          const open = this.windows.find((w) => w.index === event.index)
          if (open === undefined)
            this.windows.push({ index: event.index, startMs: event.atMs, endMs: undefined })
          else open.startMs = event.atMs
          this.paragraph(event.index)
          $("m-window").textContent = String(event.index)
        } else {
          const w = this.windows.find((x) => x.index === event.index)
          if (w !== undefined) w.endMs = event.atMs
        }
        return this.renderTimeline()
      case "compaction":
        this.compactions.push(event)
        $("m-pause").textContent = event.pauseMs.toFixed(0)
        this.addSwitchRow(event)
        return this.renderTimeline()
      case "stats":
        return this.stats(event)
      case "warning":
        return console.warn(`server: ${event.message}`)
      case "queue":
        return this.queue(event)
      case "hello":
        return
    }
  }

  private prompt(prompt: string, source: PromptSource) {
    $("system-prompt").textContent = prompt
    const badge = $("prompt-source")
    badge.textContent = source
    badge.className = `badge ${source}`
  }

  private stats(s: StatsEvent) {
    const ms = (x: number) => x.toFixed(x < 10 ? 1 : 0)
    $("m-latency").textContent = `${ms(s.frameMs.mean)} / ${ms(s.frameMs.max)}`
    $("m-rtf").textContent = s.rtf.toFixed(2)
    $("m-audio").textContent =
      `${((s.framesIn * 80) / 1000).toFixed(1)} / ${((s.framesOut * 80) / 1000).toFixed(1)}`
    $("m-dropped").textContent = String(s.droppedFrames)
    const open = this.windows.at(-1)
    if (open !== undefined && open.endMs === undefined) {
      $("m-window-sub").textContent = `${((s.atMs - open.startMs) / 1000).toFixed(1)} s in`
    }
    this.renderTimeline(s.atMs)
  }

  private addSwitchRow(c: CompactionEvent) {
    const row = document.createElement("tr")
    const cells = [
      `${c.index}`,
      `${c.pauseMs.toFixed(0)} ms`,
      `${c.durationMs.toFixed(0)} ms`,
      c.source,
      c.prompt,
    ]
    for (const [i, text] of cells.entries()) {
      const td = document.createElement("td")
      td.textContent = text
      if (i === 4) {
        td.className = "np"
        td.title = text
      }
      row.append(td)
    }
    $("switches").querySelector("tbody")!.append(row)
  }

  private renderTimeline(nowMs = performance.now() - this.handshakeAt) {
    const track = $("timeline")
    const segments: { kind: "win" | "pause"; ms: number; label: string; open?: boolean }[] = []
    for (const [i, w] of this.windows.entries()) {
      const end = w.endMs ?? nowMs
      segments.push({
        kind: "win",
        ms: Math.max(end - w.startMs, 1),
        label: `W${w.index} · ${((end - w.startMs) / 1000).toFixed(1)} s`,
        open: w.endMs === undefined,
      })
      const next = this.windows[i + 1]
      if (w.endMs !== undefined) {
        const pause = this.compactions.find((c) => c.index === w.index)
        const gapEnd = next?.startMs ?? nowMs
        segments.push({
          kind: "pause",
          ms: Math.max(gapEnd - w.endMs, 1),
          label: pause === undefined ? "thinking…" : `pause ${pause.pauseMs.toFixed(0)} ms`,
        })
      }
    }
    const total = segments.reduce((n, s) => n + s.ms, 0)
    track.replaceChildren(
      ...segments.map((s) => {
        const el = document.createElement("div")
        el.className = `seg ${s.kind}${s.open ? " open" : ""}`
        el.style.flex = `${s.ms / total} 1 0`
        el.title = s.label
        const b = document.createElement("b")
        b.textContent = s.label
        el.append(b)
        return el
      }),
    )
  }
}
