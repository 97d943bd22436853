import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // one file at a time: the browser test and the model-backed tests are heavy for a 2-core machine
    fileParallelism: false,
  },
})
