import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The root folder of the package holding the module at `moduleUrl` (its `import.meta.url`), found by
 * walking up to the nearest package.json: the same answer from `src/**` (tests) and from the bundled
 * `dist/*.js`.
 */
export const packageRootOf = (moduleUrl: string): string => {
  let dir = path.dirname(fileURLToPath(moduleUrl))
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`)
    dir = parent
  }
  return dir
}
