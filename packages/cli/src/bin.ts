#!/usr/bin/env node
// The `personaplex` entry point: the Node.js check runs before the CLI (Effect, onnxruntime) is loaded.
import { exitOnUnsupportedNode } from "./nodeVersion.ts"

exitOnUnsupportedNode("personaplex")
await import("./main.ts")
