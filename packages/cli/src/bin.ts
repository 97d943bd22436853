#!/usr/bin/env node
// The `personaplex` entry point: the Node.js check runs before the CLI (Effect, onnxruntime) is loaded.
import { exitOnUnsupportedNode } from "@personaplex/stack/node-version"

exitOnUnsupportedNode("personaplex")
await import("./main.ts")
