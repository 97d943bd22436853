import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as tar from "tar"
import { ArchiveError } from "../errors.ts"

const listVoices = (folder: string) => fs.readdirSync(folder).filter((f) => f.endsWith(".pt"))

/**
 * Extracts a voices `.tgz` (upstream: a `voices/` folder of `.pt` prompts) into `target`.
 * It unpacks into a temporary sibling first and renames at the end, so an interrupted or failed
 * extraction never leaves a `target` that looks complete.
 */
export const extractVoices = (archive: string, target: string): Effect.Effect<string, ArchiveError> =>
  Effect.tryPromise({
    try: async () => {
      const staging = `${target}.extracting`
      fs.rmSync(staging, { recursive: true, force: true })
      fs.mkdirSync(staging, { recursive: true })
      try {
        await tar.x({ file: archive, cwd: staging, strict: true, preservePaths: false })
        const nested = path.join(staging, "voices")
        const root = fs.existsSync(nested) && fs.statSync(nested).isDirectory() ? nested : staging
        if (listVoices(root).length === 0) throw new Error("it holds no .pt voice prompts")
        fs.rmSync(target, { recursive: true, force: true })
        fs.renameSync(root, target)
      } finally {
        fs.rmSync(staging, { recursive: true, force: true })
      }
      return target
    },
    catch: (error) => new ArchiveError({ path: archive, reason: (error as Error).message }),
  })

/** `.pt` voice prompt names in a voices folder, e.g. ["NATF0", "NATM1", ...]. */
export const voiceNames = (folder: string): ReadonlyArray<string> =>
  listVoices(folder)
    .map((f) => f.slice(0, -3))
    .sort()
