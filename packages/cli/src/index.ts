export { cli, version } from "./cli.ts"
export { CommandFailed } from "./commands/failure.ts"
export {
  type ConversationRequest,
  type InputChoice,
  type OutputChoice,
  reportPathFor,
  runFromSettings,
} from "./conversation.ts"
export { formatSummary, makeProgress, type ProgressOptions } from "./progress.ts"
