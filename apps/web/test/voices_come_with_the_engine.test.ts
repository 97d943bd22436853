import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { releaseVoicesFolder } from "../src/server/release-voices.ts"
import { UPSTREAM_VOICE_NAMES } from "../src/server/smoke-voices.ts"
import { VoiceCatalog } from "../src/server/voices.ts"
import { Client, makeVoicesDir, type RunningServer, startFromFlags, tone, waitFor } from "./helpers.ts"

let servers: RunningServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** A voices.tgz as the release ships it: a `voices/` folder of `.pt` files. */
const voicesArchive = (names: ReadonlyArray<string>): string => {
  const root = tmp("pp-tgz-")
  fs.mkdirSync(path.join(root, "voices"))
  for (const name of names) fs.writeFileSync(path.join(root, "voices", name), `voice ${name}`)
  const archive = path.join(root, "voices.tgz")
  execFileSync("tar", ["czf", archive, "-C", root, "voices"])
  return archive
}

const voiceNames = (folder: string | undefined) =>
  Effect.runPromise(Effect.map(new VoiceCatalog(folder).list, (voices) => voices.map((v) => v.name)))

/** The hub's tree listing and resolve URL for one non-LFS file, counting downloads. */
const fakeHub = async (repo: string, file: string, content: Uint8Array) => {
  const state = { downloads: 0, corrupt: false }
  const gitSha1 = crypto.createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex")
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "").split("?")[0]
    if (url === `/api/models/${repo}/tree/main`) {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify([{ type: "file", oid: gitSha1, size: content.length, path: file }]))
    } else if (url === `/${repo}/resolve/main/${file}`) {
      state.downloads++
      const body = Buffer.from(content)
      if (state.corrupt) body[body.length >> 1]! ^= 0xff
      res.writeHead(200, { "content-length": String(body.length) })
      res.end(body)
    } else {
      res.writeHead(404)
      res.end("{}")
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    state,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe("voices out of the box", () => {
  it("the smoke engine offers upstream's 18 voice names with default flags; NATF0.pt is the default and prompts the model", async () => {
    const cache = tmp("pp-smoke-cache-")
    const server = await startFromFlags(["--smoke-cache", cache])
    servers.push(server)
    const listed = (await (await fetch(`${server.url}/api/voices`)).json()) as {
      voices: string[]
      default: string
    }
    expect(listed.voices).toEqual([...UPSTREAM_VOICE_NAMES].sort())
    expect(listed.voices).toHaveLength(18)
    expect(listed.default).toBe("NATF0.pt")
    const client = Client.connect(server, {
      voice_prompt: "NATF0.pt",
      text_prompt: "You hum.",
      events: "json",
    })
    await client.handshake
    await waitFor("the hello event", () => client.events.some((e) => e.type === "hello"))
    expect(client.events.find((e) => e.type === "hello")).toMatchObject({ voice: "NATF0.pt" })
    await client.sendFrames(tone(4))
    await waitFor("agent audio", () => client.received.length >= 2, 30_000)
    expect(client.errors).toEqual([])
    await client.close()
    // made once: a second start reuses the recorded voices
    const voiceFile = path.join(cache, "smoke-voices-v1", "NATF0.safetensors")
    const made = fs.statSync(voiceFile).mtimeMs
    const again = await startFromFlags(["--smoke-cache", cache])
    servers.push(again)
    expect(fs.statSync(voiceFile).mtimeMs).toBe(made)
  })

  it("--voices DIR overrides the built-in voices", async () => {
    const { dir } = makeVoicesDir()
    const server = await startFromFlags(["--engine", "echo", "--voices", dir])
    servers.push(server)
    const listed = (await (await fetch(`${server.url}/api/voices`)).json()) as {
      voices: string[]
      default: string
    }
    expect(listed).toEqual({ voices: ["NATF0.pt", "VARM1.wav"], default: "NATF0.pt" })
  })

  it("real models get the release's voices.tgz through the model store: a local release folder as it is", async () => {
    const release = tmp("pp-release-")
    fs.copyFileSync(voicesArchive(["NATF0.pt", "NATM1.pt"]), path.join(release, "voices.tgz"))
    const folder = await Effect.runPromise(releaseVoicesFolder({ _tag: "Folder", dir: release }))
    expect(folder).toBe(path.join(release, "voices"))
    expect(await voiceNames(folder)).toEqual(["NATF0.pt", "NATM1.pt"])
    // model files of another architecture get no release voices (they would not fit)
    expect(
      await Effect.runPromise(
        releaseVoicesFolder({ _tag: "Files", mimi: "m", lm: "l", tokenizer: "t", lmConfig: "tiny.json" }),
      ),
    ).toBeUndefined()
    // a release folder without voices: a clear error that says what to do
    const empty = tmp("pp-release-empty-")
    const error = await Effect.runPromise(Effect.flip(releaseVoicesFolder({ _tag: "Folder", dir: empty })))
    expect(error.message).toMatch(
      /^cannot get the release voices \(voices\.tgz\) from .*voices\.tgz.*or give --voices DIR/,
    )
  })

  it("...or downloaded once from the hub into the cache, verified against the listing's hash", async () => {
    const archive = fs.readFileSync(voicesArchive(["NATF0.pt", "VARM4.pt"]))
    const hub = await fakeHub("nvidia/personaplex-7b-v1", "voices.tgz", archive)
    try {
      const cacheDir = tmp("pp-hub-cache-")
      const store = { endpoint: hub.endpoint, cacheDir, retries: 0, retryDelayMs: 0 }
      const folder = await Effect.runPromise(releaseVoicesFolder({ _tag: "Hub" }, store))
      expect(await voiceNames(folder)).toEqual(["NATF0.pt", "VARM4.pt"])
      expect(hub.state.downloads).toBe(1)
      await Effect.runPromise(releaseVoicesFolder({ _tag: "Hub" }, store))
      expect(hub.state.downloads).toBe(1)
      // bytes that do not match the listing are refused, not extracted
      hub.state.corrupt = true
      const error = await Effect.runPromise(
        Effect.flip(releaseVoicesFolder({ _tag: "Hub" }, { ...store, cacheDir: tmp("pp-hub-cache2-") })),
      )
      expect(error._tag).toBe("ReleaseVoicesError")
      expect(error.message).toMatch(/hash|sha|integrity|checksum/i)
    } finally {
      await hub.close()
    }
  })
})
