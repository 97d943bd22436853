import { spawn } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, built, tempDir } from "./support.ts"

describe.skipIf(!built)("personaplex model fetch against a hub that never answers", () => {
  let server: http.Server
  let endpoint = ""
  beforeAll(async () => {
    server = http.createServer(() => {}) // accepts, reads the request, never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )

  it("says what it waits for, gives up in seconds, and names HF_ENDPOINT, HF_TOKEN and model.dir", async () => {
    const cwd = tempDir("cli-fetch-")
    const started = Date.now()
    // spawned asynchronously: the silent server runs in this process
    const child = spawn(process.execPath, [bin, "model", "fetch", "--files", "textTokenizer"], {
      cwd,
      env: {
        ...process.env,
        NO_COLOR: "1",
        HF_ENDPOINT: endpoint,
        HF_HUB_DOWNLOAD_TIMEOUT: "0.3",
        PERSONAPLEX_CACHE: path.join(cwd, "cache"),
        HF_TOKEN: "",
      },
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += String(chunk)))
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve))
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(status).toBe(1)
    expect(stdout).toContain(`Listing nvidia/personaplex-7b-v1 on ${endpoint}`)
    expect(stdout).toContain("no answer within 0.3 s; retry 1 in 1.0 s")
    expect(stdout).toContain("no answer within 0.3 s; retry 2 in 2.0 s")
    const [error, hint] = stderr.trimEnd().split("\n")
    expect(error).toBe(
      `error: cannot reach the Hugging Face hub at ${endpoint}: no answer within 0.3 s (${endpoint}/api/models/nvidia/personaplex-7b-v1/tree/main)`,
    )
    expect(hint).toMatch(
      /^hint: check the network, or set HF_ENDPOINT .* HF_TOKEN .* model\.dir in the run configuration/,
    )
  }, 60_000)
})
