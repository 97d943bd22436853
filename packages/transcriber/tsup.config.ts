import { packageBuild } from "../../tsup.base.ts"

// The recognizer's worker is its own entry: it is started from a file beside the built index.
export default packageBuild({ entry: ["src/index.ts", "src/recognizerWorker.ts"] })
