export { TokenizerError } from "./errors.ts"
export { PieceType, readVocabulary, type VocabPiece } from "./modelProto.ts"
export { loadTextTokenizer, TextTokenizer, type TextTokenizerShape } from "./TextTokenizer.ts"
