import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts", "src/start.ts", "src/bin.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  clean: false,
  sourcemap: true,
  target: "node22",
})
