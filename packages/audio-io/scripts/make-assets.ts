// Regenerates assets/*.wav with espeak-ng: `node scripts/make-assets.ts` (Node 22, types stripped).
// espeak-ng writes 22.05 kHz mono PCM16; this converts it to the package's 24 kHz mono PCM16.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { loadMono24k } from "../src/loadAudio.ts"
import { writeWav } from "../src/wav.ts"

const clips = [
  { file: "hello.wav", text: "Hello, this is a test of the PersonaPlex audio pipeline." },
  { file: "thinking.wav", text: "Hmm, let me think." },
]

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "espeak-"))
for (const clip of clips) {
  const raw = path.join(dir, clip.file)
  execFileSync("espeak-ng", ["-v", "en-us", "-s", "160", "-w", raw, clip.text])
  const out = path.join(import.meta.dirname, "..", "assets", clip.file)
  const samples = await Effect.runPromise(loadMono24k(raw, { quality: "best" }))
  await Effect.runPromise(writeWav(out, { sampleRate: 24000, channels: [samples] }))
  console.log(`${clip.file}: ${(samples.length / 24000).toFixed(2)} s, ${fs.statSync(out).size} bytes`)
}
fs.rmSync(dir, { recursive: true })
