import { describe, expect, it } from "vitest"
import { searchGrid } from "../src/index.ts"

describe("searchGrid", () => {
  it("lays n values out as the most square grid with no fewer rows than columns", () => {
    expect(searchGrid(32000)).toEqual({ rows: 200, cols: 160 })
    expect(searchGrid(2048)).toEqual({ rows: 64, cols: 32 })
    expect(searchGrid(1000)).toEqual({ rows: 40, cols: 25 })
    expect(searchGrid(13)).toEqual({ rows: 13, cols: 1 })
  })
})
