import { describe, expect, it } from "vitest"
import { MINIMUM_NODE, nodeIsRecentEnough, nodeVersionProblem } from "../src/nodeVersion.ts"

describe("the Node.js version check", () => {
  it("passes 22.19 and later, refuses earlier ones", () => {
    expect(MINIMUM_NODE).toBe("22.19.0")
    for (const ok of ["22.19.0", "v22.23.3", "23.0.0", "24.1.2"])
      expect(nodeIsRecentEnough(ok), ok).toBe(true)
    for (const old of ["20.11.0", "v22.18.9", "22.9.0", "18.20.4"])
      expect(nodeIsRecentEnough(old), old).toBe(false)
  })

  it("names the version found, the one needed, and how to get it", () => {
    const text = nodeVersionProblem("personaplex", "v20.11.0", { executable: "/usr/bin/node" })!
    expect(text.split("\n")[0]).toBe(
      "error: personaplex needs Node.js 22.19.0 or newer; this is Node.js 20.11.0 (/usr/bin/node).",
    )
    expect(text).toContain("nvm install 22")
    expect(text).toContain("npx --yes pnpm@12.4.2 exec personaplex ...")
    expect(nodeVersionProblem("personaplex", "22.19.0")).toBeUndefined()
  })
})
