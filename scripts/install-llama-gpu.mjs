#!/usr/bin/env node
// Opt-in: node-llama-cpp's prebuilt GPU build for the compactor's LLM (`secondary_model.gpu`), from the npm
// registry, at the exact version of the node-llama-cpp the workspace uses. The default install leaves these
// packages out (pnpm-workspace.yaml: ignoredOptionalDependencies; CI is CPU-only); re-run after `pnpm install`.
//
//   node scripts/install-llama-gpu.mjs vulkan            # @node-llama-cpp/linux-x64-vulkan (27.5 MB packed)
//   node scripts/install-llama-gpu.mjs cuda              # linux-x64-cuda + linux-x64-cuda-ext (CUDA 13 / 12, ~320 MB)
//   node scripts/install-llama-gpu.mjs vulkan --into DIR   # into DIR/node_modules, e.g. a `pnpm deploy` folder
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { into: { type: "string" } },
})
const PACKAGES = {
  vulkan: ["@node-llama-cpp/linux-x64-vulkan"],
  cuda: ["@node-llama-cpp/linux-x64-cuda", "@node-llama-cpp/linux-x64-cuda-ext"],
}
const gpu = positionals[0]
if (!(gpu in PACKAGES) || process.platform !== "linux" || process.arch !== "x64") {
  console.error("usage: node scripts/install-llama-gpu.mjs vulkan|cuda [--into DIR] (linux x64)")
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
  console.log(`${name}@${version} → ${target}`)
}
fs.rmSync(temp, { recursive: true, force: true })
