import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    cli: "src/cli.ts",
    diagnose: "src/diagnose.ts",
    compactor: "src/compactor-cli.ts",
    batch: "src/batch-cli.ts",
    "codec-batch": "src/codec-batch-cli.ts",
  },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  sourcemap: true,
  target: "node22",
})
