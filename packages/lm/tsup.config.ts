import { packageBuild } from "../../tsup.base.ts"

// The weight-conversion worker is its own entry: convertWeights starts it from a file beside the built index.
export default packageBuild({
  entry: { index: "src/index.ts", convertWorker: "src/fused/convert/worker.ts" },
  dts: { entry: { index: "src/index.ts" } },
})
