// Resampling and WAV throughput: `node bench/resample.ts` (Node 22). Prints a table, writes bench/resample.json.
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { type ResampleQuality, resample } from "../src/resample.ts"
import { decodeWav, encodeWav } from "../src/wav.ts"

const seconds = 10
const rows: Array<Record<string, string | number>> = []
const time = async (run: () => Promise<unknown>) => {
  await run() // warm-up (wasm instantiation, JIT)
  const start = performance.now()
  await run()
  return performance.now() - start
}

for (const fromRate of [48000, 44100, 16000]) {
  const input = Float32Array.from(
    { length: seconds * fromRate },
    (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / fromRate),
  )
  for (const quality of ["best", "medium", "fastest"] as Array<ResampleQuality>) {
    const ms = await time(() => Effect.runPromise(resample(input, fromRate, 24000, { quality })))
    rows.push({
      task: `resample ${fromRate} -> 24000 (${quality})`,
      audio_s: seconds,
      ms: +ms.toFixed(1),
      x_realtime: +((seconds * 1000) / ms).toFixed(0),
    })
  }
}
const stereo = { sampleRate: 48000, channels: [0, 1].map(() => new Float32Array(seconds * 48000).fill(0.25)) }
for (const encoding of ["pcm16", "float32"] as const) {
  const bytes = encodeWav(stereo, encoding)
  const ms = await time(() => Effect.runPromise(decodeWav(bytes)))
  rows.push({
    task: `decode ${encoding} 48 kHz stereo`,
    audio_s: seconds,
    ms: +ms.toFixed(1),
    x_realtime: +((seconds * 1000) / ms).toFixed(0),
  })
}
console.table(rows)
fs.writeFileSync(
  path.join(import.meta.dirname, "resample.json"),
  `${JSON.stringify({ node: process.version, rows }, null, 2)}\n`,
)
