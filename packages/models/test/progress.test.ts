import { describe, expect, it } from "vitest"
import { formatBytes, type ProgressEvent, renderProgress } from "../src/index.ts"

const ERASE_LINE = "\u001b[K"

const download = (size: number, steps: number): ProgressEvent[] => [
  { _tag: "Started", file: "model.safetensors", size, resumeFrom: 0 },
  ...Array.from(
    { length: steps },
    (_, i): ProgressEvent => ({
      _tag: "Bytes",
      file: "model.safetensors",
      received: Math.round(((i + 1) * size) / steps),
      size,
    }),
  ),
  { _tag: "Verifying", file: "model.safetensors" },
  { _tag: "Downloaded", file: "model.safetensors", path: "/cache/model.safetensors", size },
]

describe("renderProgress", () => {
  it("redraws one line on a terminal (speed since the download started)", () => {
    let out = ""
    let clock = 0
    const render = renderProgress(
      { write: (t) => (out += t), isTTY: true },
      { width: 10, now: () => (clock += 500) },
    )
    for (const event of download(16_000_000_000, 4)) render(event)
    const lines = out.split("\n")
    expect(
      lines[0]!
        .split("\r")
        .filter(Boolean)
        .map((l) => (l.endsWith(ERASE_LINE) ? l.slice(0, -ERASE_LINE.length) : l)),
    ).toEqual([
      "model.safetensors [###-------]  25% 4.0 GB/16.0 GB 8.0 GB/s",
      "model.safetensors [#####-----]  50% 8.0 GB/16.0 GB 8.0 GB/s",
      "model.safetensors [########--]  75% 12.0 GB/16.0 GB 8.0 GB/s",
      "model.safetensors [##########] 100% 16.0 GB/16.0 GB 8.0 GB/s",
    ])
    expect(lines.slice(1)).toEqual(["model.safetensors: verifying", "model.safetensors: done (16.0 GB)", ""])
  })

  it("prints a line per 10 % in logs", () => {
    let out = ""
    const render = renderProgress({ write: (t) => (out += t) }, { now: () => 0 })
    for (const event of download(1000, 100)) render(event)
    const bars = out.split("\n").filter((l) => l.includes("%"))
    expect(bars.map((l) => /(\d+)%/.exec(l)![1])).toEqual([
      "1",
      "10",
      "20",
      "30",
      "40",
      "50",
      "60",
      "70",
      "80",
      "90",
      "100",
    ])
  })

  it("formats sizes in decimal units", () => {
    expect([0, 999, 1000, 16_742_817_792].map(formatBytes)).toEqual(["0 B", "999 B", "1.0 kB", "16.7 GB"])
  })
})
