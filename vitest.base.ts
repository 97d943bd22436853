import * as path from "node:path"

/** The test settings every package shares; its `vitest.config.ts` may add its own. */
export const packageTests = {
  include: ["src/**/*.test.ts", "test/**/*.test.ts"],
  testTimeout: 120_000,
  hookTimeout: 120_000,
  globalSetup: [path.join(import.meta.dirname, "vitest.tmpdir.ts")],
}
