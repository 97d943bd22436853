export {}
export * from "./tokenizer/index.ts"
