import { fileURLToPath } from "node:url"

// src/ and dist/ both sit one level below the package root, so the same relative URL works from either.
const asset = (name: string) => fileURLToPath(new URL(`../assets/${name}`, import.meta.url))

/** Audio files shipped with the package (24 kHz mono PCM16, spoken by espeak-ng). */
export const assets = {
  /** About 3 s of speech: "Hello, this is a test of the PersonaPlex audio pipeline." */
  helloWav: asset("hello.wav"),
  /** A short "thinking" clip: "Hmm, let me think." */
  thinkingWav: asset("thinking.wav"),
} as const
