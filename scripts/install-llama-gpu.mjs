#!/usr/bin/env node
// Opt-in: node-llama-cpp's prebuilt GPU build for the compactor's LLM (`secondary_model.gpu`), from the npm
// registry, at the exact version of the node-llama-cpp the workspace uses. The default install leaves these
// packages out (pnpm-workspace.yaml: ignoredOptionalDependencies; CI is CPU-only); re-run after `pnpm install`.
//
//   node scripts/install-llama-gpu.mjs vulkan            # @node-llama-cpp/linux-x64-vulkan (27.5 MB packed)
//   node scripts/install-llama-gpu.mjs cuda              # linux-x64-cuda + linux-x64-cuda-ext (CUDA 13 / 12, ~320 MB)
//   node scripts/install-llama-gpu.mjs vulkan --into DIR --link-identical
//       (into DIR/node_modules, e.g. a `pnpm deploy` folder; files identical to the CPU build's become hardlinks)
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { into: { type: "string" }, "link-identical": { type: "boolean", default: false } },
})
const PACKAGES = {
  vulkan: ["@node-llama-cpp/linux-x64-vulkan"],
  cuda: ["@node-llama-cpp/linux-x64-cuda", "@node-llama-cpp/linux-x64-cuda-ext"],
}
const gpu = positionals[0]
if (!(gpu in PACKAGES) || process.platform !== "linux" || process.arch !== "x64") {
  console.error(
    "usage: node scripts/install-llama-gpu.mjs vulkan|cuda [--into DIR] [--link-identical] (linux x64)",
  )
  process.exit(2)
}
const root = path.resolve(values.into ?? path.join(path.dirname(new URL(import.meta.url).pathname), ".."))
// node-llama-cpp as the compaction package resolves it, or (a deploy folder) the one in pnpm's store.
const store = path.join(root, "node_modules", ".pnpm")
const llamaPackage = fs.existsSync(path.join(root, "packages/compaction/package.json"))
  ? fs.realpathSync(
      createRequire(path.join(root, "packages/compaction/package.json")).resolve(
        "node-llama-cpp/package.json",
      ),
    )
  : fs
      .readdirSync(store)
      .filter((d) => d.startsWith("node-llama-cpp@"))
      .map((d) => path.join(store, d, "node_modules", "node-llama-cpp", "package.json"))[0]
if (llamaPackage === undefined) {
  console.error(`no node-llama-cpp under ${root}`)
  process.exit(1)
}
const version = JSON.parse(fs.readFileSync(llamaPackage, "utf8")).version
// The CPU build beside node-llama-cpp (pnpm puts a package's dependencies next to it).
const cpuBins = path.join(
  path.dirname(llamaPackage),
  "..",
  "@node-llama-cpp",
  "linux-x64",
  "bins",
  "linux-x64",
)

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "llama-gpu-"))
for (const name of PACKAGES[gpu]) {
  const tarball = execFileSync(
    "npm",
    ["pack", `${name}@${version}`, "--pack-destination", temp, "--silent"],
    {
      encoding: "utf8",
    },
  ).trim()
  const target = path.join(root, "node_modules", name)
  fs.rmSync(target, { recursive: true, force: true })
  fs.mkdirSync(target, { recursive: true })
  execFileSync("tar", ["-xzf", path.join(temp, tarball), "-C", target, "--strip-components=1"])
  let linked = 0
  if (values["link-identical"] && fs.existsSync(cpuBins)) {
    const bins = path.join(target, "bins")
    for (const dir of fs.readdirSync(bins))
      for (const file of fs.readdirSync(path.join(bins, dir))) {
        const mine = path.join(bins, dir, file)
        const cpu = path.join(cpuBins, file)
        if (fs.existsSync(cpu) && fs.readFileSync(cpu).equals(fs.readFileSync(mine))) {
          fs.rmSync(mine)
          fs.linkSync(cpu, mine)
          linked++
        }
      }
  }
  console.log(
    `${name}@${version} → ${target}${linked > 0 ? ` (${linked} files hardlinked to the CPU build's)` : ""}`,
  )
}
fs.rmSync(temp, { recursive: true, force: true })
