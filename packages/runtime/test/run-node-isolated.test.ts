import { describe, expect, it } from "vitest"
import { runNodeIsolated } from "../src/index.ts"

describe("runNodeIsolated", () => {
  it("reports a child's output lines, exit status and the signal that killed it, without harm to the caller", () => {
    const printed = runNodeIsolated(["-e", 'console.log("a"); console.log(""); console.log("b")'], 30_000)
    expect(printed).toMatchObject({ signal: null, status: 0, lines: ["a", "b"] })

    const failed = runNodeIsolated(["-e", 'console.error("bad input"); process.exit(3)'], 30_000)
    expect(failed).toMatchObject({ signal: null, status: 3 })
    expect(failed.stderrTail).toContain("bad input")

    // As a crash in a provider's native code would end it.
    const killed = runNodeIsolated(["-e", 'process.kill(process.pid, "SIGKILL")'], 30_000)
    expect(killed).toMatchObject({ signal: "SIGKILL", status: null })
  })
})
