/** The Hugging Face repository PersonaPlex is published in (gated: needs an accepted licence and a token). */
export const PERSONAPLEX_REPO = "nvidia/personaplex-7b-v1"

/** File names of the release (upstream `loaders.py` constants). */
export const PersonaPlexFiles = {
  lm: "model.safetensors",
  mimi: "tokenizer-e351c8d8-checkpoint125.safetensors",
  textTokenizer: "tokenizer_spm_32k_3.model",
  voices: "voices.tgz",
} as const

export type PersonaPlexFile = keyof typeof PersonaPlexFiles

export const ALL_FILES: ReadonlyArray<PersonaPlexFile> = ["lm", "mimi", "textTokenizer", "voices"]
