#!/usr/bin/env node
// The `personaplex-web` entry point: the Node.js check runs before the server (Effect, onnxruntime) is loaded.
import { exitOnUnsupportedNode } from "@personaplex/stack/node-version"

exitOnUnsupportedNode("personaplex-web", {
  fromRepository: "npx --yes pnpm@12.4.2 --filter @personaplex/web start",
})
await import("./bin.ts")
