// sentencepiece-js 1.1.0 ships no types; this is the part of its API that TextTokenizer uses.
declare module "sentencepiece-js" {
  export class SentencePieceProcessor {
    load(path: string): Promise<void>
    encodeIds(text: string): number[]
    encodePieces(text: string): string[]
    decodeIds(ids: number[]): string
  }
  const sentencepiece: { SentencePieceProcessor: typeof SentencePieceProcessor }
  export default sentencepiece
}
