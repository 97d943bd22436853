// Runs every package's tests through turbo, then prints the plain `N passed, N failed` line
// that CI reads (vitest's and turbo's own summaries are not read as counts).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
const workspaces = ["packages", "apps"].flatMap((dir) =>
  fs.existsSync(path.join(root, dir))
    ? fs.readdirSync(path.join(root, dir)).map((name) => path.join(root, dir, name))
    : [],
)
const reports = workspaces.map((dir) => path.join(dir, ".vitest-report.json"))
for (const report of reports) fs.rmSync(report, { force: true })

const turbo = spawnSync("turbo", ["run", "test", "--continue", "--concurrency=1", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
})

let passed = 0
let failed = 0
let skipped = 0
const missing = []
for (const [i, report] of reports.entries()) {
  if (!fs.existsSync(report)) {
    if (fs.existsSync(path.join(workspaces[i], "package.json")))
      missing.push(path.relative(root, workspaces[i]))
    continue
  }
  const summary = JSON.parse(fs.readFileSync(report, "utf8"))
  passed += summary.numPassedTests
  failed += summary.numFailedTests
  skipped += summary.numPendingTests + (summary.numTodoTests ?? 0)
}
if (missing.length) console.log(`no test report from: ${missing.join(", ")}`)
const exitCode = turbo.status === 0 && failed === 0 ? 0 : 1
if (turbo.status !== 0 && failed === 0) failed += 1 // a package whose tests could not even start
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(exitCode)
