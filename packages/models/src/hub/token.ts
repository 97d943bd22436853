import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export type Env = Readonly<Record<string, string | undefined>>

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (huggingface_hub's rule). */
export const huggingFaceHome = (env: Env = process.env): string =>
  env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "huggingface")

export interface FoundToken {
  readonly token: string
  /** Where it came from: an environment variable name or a file path. */
  readonly source: string
}

/**
 * The Hugging Face token the official clients would use: `HF_TOKEN`, then the deprecated
 * `HUGGING_FACE_HUB_TOKEN`, then the file `$HF_TOKEN_PATH` or `<HF home>/token`.
 */
export const findHuggingFaceToken = (env: Env = process.env): FoundToken | undefined => {
  for (const name of ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]) {
    const value = env[name]?.trim()
    if (value) return { token: value, source: name }
  }
  const file = env.HF_TOKEN_PATH ?? path.join(huggingFaceHome(env), "token")
  let text: string
  try {
    text = fs.readFileSync(file, "utf8").trim()
  } catch {
    return undefined
  }
  return text ? { token: text, source: file } : undefined
}
