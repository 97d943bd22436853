import { DEFAULT_TEXT_PROMPT } from "./server.ts"
import { UPSTREAM_DEFAULT_VOICE } from "./smoke-voices.ts"

/**
 * The /api/chat query string upstream's web client builds (`Conversation.tsx` `buildURL`,
 * upstream-spec §6.1) with its default values: what a client talking as upstream's does sends.
 */
export const upstreamClientQuery = (
  overrides: Readonly<Record<string, string>> = {},
): Record<string, string> => ({
  text_temperature: "0.7",
  text_topk: "25",
  audio_temperature: "0.8",
  audio_topk: "250",
  pad_mult: "0",
  text_seed: "3141592",
  audio_seed: "2718281",
  repetition_penalty_context: "64",
  repetition_penalty: "1",
  text_prompt: DEFAULT_TEXT_PROMPT,
  voice_prompt: UPSTREAM_DEFAULT_VOICE,
  ...overrides,
})
