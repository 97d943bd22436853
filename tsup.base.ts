import { defineConfig, type Options } from "tsup"

/** The build every package shares: ESM for Node 22 with type declarations; `overrides` adds entries and the like. */
export const packageBuild = (overrides: Options = {}) =>
  defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node22",
    ...overrides,
  })
