import { defineConfig } from "vitest/config"
import { packageTests } from "../../vitest.base.ts"

export default defineConfig({
  test: {
    ...packageTests,
    // one file at a time: the browser test and the model-backed tests are heavy for a 2-core machine
    fileParallelism: false,
  },
})
