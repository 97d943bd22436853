import { exitOnUnsupportedNode } from "@personaplex/stack/node-version"

/**
 * The Node.js check of a benchmark entry point (`dist/<entry>.js`), before any work: on Node 20 the
 * benchmark runs to onnxruntime's "Invalid argument" in every cell.
 */
export const refuseOldNode = (entry: string): void =>
  exitOnUnsupportedNode(`packages/bench/dist/${entry}.js`, {
    fromRepository: `npx --yes pnpm@12.4.2 exec node packages/bench/dist/${entry}.js ...`,
  })
