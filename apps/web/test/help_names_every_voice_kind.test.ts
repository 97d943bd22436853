import { describe, expect, it } from "vitest"
import { usage } from "../src/server/main.ts"

describe("personaplex-web --help", () => {
  it("names every kind of voice file --voices takes, upstream's .pt first", () => {
    expect(usage).toMatch(/--voices DIR\s+the allowed voices: \.pt, \.safetensors and \.wav files in DIR/)
  })
})
