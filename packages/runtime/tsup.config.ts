import { packageBuild } from "../../tsup.base.ts"

// The worker is its own entry: OrtSession starts it from a file beside the built index.
export default packageBuild({ entry: ["src/index.ts", "src/ortWorker.ts"] })
