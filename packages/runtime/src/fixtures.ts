import * as fs from "node:fs"
import * as path from "node:path"

/** The monorepo root: the nearest folder above `from` holding `pnpm-workspace.yaml`. */
export const workspaceRoot = (from = process.cwd()): string => {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) return path.resolve(from)
  }
}

/**
 * The upstream golden fixtures: `$PERSONAPLEX_FIXTURES`, else `shared/fixtures/upstream`
 * beside the repository (where CI and the developers' machines put it).
 */
export const upstreamFixturesDir = (): string =>
  process.env.PERSONAPLEX_FIXTURES
    ? path.resolve(process.env.PERSONAPLEX_FIXTURES)
    : path.resolve(workspaceRoot(), "..", "shared", "fixtures", "upstream")
