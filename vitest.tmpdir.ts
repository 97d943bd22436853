/**
 * Global setup of every package's tests: the temp folder of the test processes (`TMPDIR`, so
 * `os.tmpdir()`, also for the processes they spawn) is one fresh folder per run, removed when the
 * run ends, so that no test leaves files behind, whatever it forgets to clean up.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export default function setup() {
  const previous = process.env.TMPDIR
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "personaplex-tests-"))
  process.env.TMPDIR = dir
  return () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
