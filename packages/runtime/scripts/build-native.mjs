// Compiles native/ortOptionsShim.cc into native/build/ortOptionsShim.node with the system's g++ and
// the headers of the Node that runs this script. Optional: without a compiler the shim is missing,
// and sessions that ask for WebGPU graph capture fail with a message that says so.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")
const source = path.join(root, "native", "ortOptionsShim.cc")
const target = path.join(root, "native", "build", "ortOptionsShim.node")
const headers = path.join(path.dirname(process.execPath), "..", "include", "node")

if (process.platform !== "linux") {
  console.log(`ortOptionsShim: not built (${process.platform}; the shim is Linux-only)`)
} else if (!fs.existsSync(path.join(headers, "node_api.h"))) {
  console.log(`ortOptionsShim: not built (no Node headers at ${headers})`)
} else if (fs.existsSync(target) && fs.statSync(target).mtimeMs >= fs.statSync(source).mtimeMs) {
  console.log("ortOptionsShim: up to date")
} else {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  try {
    execFileSync(
      "g++",
      // libstdc++ linked in: the GPU machines get this file, not a compiler, and may have an older one.
      [
        ...["-shared", "-fPIC", "-O2", "-std=c++17", "-Wall", "-static-libstdc++", "-static-libgcc"],
        ...["-I", headers, source, "-o", target],
      ],
      {
        stdio: ["ignore", "inherit", "inherit"],
      },
    )
    console.log(`ortOptionsShim: built ${path.relative(root, target)}`)
  } catch (error) {
    console.log(`ortOptionsShim: not built (${error.code === "ENOENT" ? "no g++" : error.message})`)
  }
}
