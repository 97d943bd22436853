import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { EchoEngine } from "../src/server/echo-engine.ts"
import { loadTls, selfSignedCertificate } from "../src/server/tls.ts"
import { Client, type RunningServer, startFromFlags, startServer, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const getJson = (url: string, ca: string) =>
  new Promise<unknown>((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = ""
        res.on("data", (d) => {
          body += d
        })
        res.on("end", () => resolve(JSON.parse(body)))
      })
      .on("error", reject)
  })

describe("TLS", () => {
  it("holds a conversation over wss:// with a self-signed certificate (the client trusting that certificate)", async () => {
    const tls = await Effect.runPromise(selfSignedCertificate(["localhost", "127.0.0.1"]))
    const server = await startServer(EchoEngine.layer({ windowFrames: 10 }), { tls })
    servers.push(server)
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(await getJson(`${server.url}/api/health`, tls.cert)).toMatchObject({ status: "ok" })
    const client = Client.connect(server, { text_prompt: "You speak through TLS." }, { ca: tls.cert })
    await client.handshake
    await client.sendFrames(tone(20))
    await waitFor("agent audio over wss", () => client.received.length >= 10)
    expect(client.rms()).toBeGreaterThan(0.05)
    expect(client.text.join("")).toContain("speak through")
    expect(client.errors).toEqual([])
    await client.close()
    // a client that does not trust the certificate gets no connection
    const untrusting = new WebSocket(`wss://127.0.0.1:${server.port}/api/chat`)
    const failure = await new Promise<Error>((resolve) => untrusting.once("error", resolve))
    expect(failure.message).toMatch(/self-signed certificate/)
  })

  it("--tls-self-signed makes a certificate at start for this machine's names; --ssl DIR keeps one in DIR", async () => {
    const server = await startFromFlags(["--engine", "echo", "--tls-self-signed"])
    servers.push(server)
    expect(server.url.startsWith("https://")).toBe(true)
    expect(server.started.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-ssl-"))
    const withFolder = await startFromFlags(["--engine", "echo", "--ssl", dir])
    servers.push(withFolder)
    const cert = fs.readFileSync(path.join(dir, "cert.pem"), "utf8")
    expect(fs.readFileSync(path.join(dir, "key.pem"), "utf8")).toContain("PRIVATE KEY")
    const client = Client.connect(withFolder, { text_prompt: "hi" }, { ca: cert })
    await client.handshake
    await client.close()
    // the next start reuses the folder's certificate
    const again = await startFromFlags(["--engine", "echo", "--ssl", dir])
    servers.push(again)
    expect(again.started.fingerprint).toBe(withFolder.started.fingerprint)
  })

  it("refuses unusable certificate files with an error naming the file", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-tls-"))
    const a = await Effect.runPromise(selfSignedCertificate(["localhost"]))
    const b = await Effect.runPromise(selfSignedCertificate(["localhost"]))
    fs.writeFileSync(path.join(dir, "cert.pem"), a.cert)
    fs.writeFileSync(path.join(dir, "other-key.pem"), b.key)
    fs.writeFileSync(path.join(dir, "not.pem"), "hello")
    const failure = (cert: string, key: string) =>
      Effect.runPromise(
        Effect.flip(
          loadTls({ _tag: "Files", cert: path.join(dir, cert), key: path.join(dir, key) }, undefined),
        ),
      )
    expect((await failure("missing.pem", "other-key.pem")).message).toBe(
      `TLS: --tls-cert ${path.join(dir, "missing.pem")}: no such file`,
    )
    expect((await failure("not.pem", "other-key.pem")).message).toMatch(/not a PEM file/)
    expect((await failure("cert.pem", "other-key.pem")).message).toMatch(
      /the certificate and key do not work together/,
    )
  })
})
