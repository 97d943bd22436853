// A repository id goes through @personaplex/models' download code into the cache, then loads from there.
// The hub is a fetch function serving the tiny model's files (no network).
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { resolveTranscriberModel, Transcriber, writeTinyMoonshine } from "../src/index.ts"
import { twoUtterances } from "./support.ts"

const REPO = "tiny-org/moonshine-tiny-random"
let dir = ""
let served = ""
const requests: Array<string> = []

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "transcriber-hub-"))
  served = writeTinyMoonshine(path.join(dir, "served")).folder
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const fakeHub: typeof fetch = async (input, init) => {
  const url = new URL(String(input))
  const prefix = `/${REPO}/resolve/main/`
  requests.push(`${init?.method ?? "GET"} ${url.pathname}`)
  const file = path.join(served, decodeURIComponent(url.pathname.slice(prefix.length)))
  if (!url.pathname.startsWith(prefix) || !fs.existsSync(file))
    return new Response("not found", { status: 404 })
  const bytes = fs.readFileSync(file)
  const headers = {
    "content-length": String(bytes.length),
    etag: `"${crypto.createHash("sha256").update(bytes).digest("hex")}"`,
  }
  return init?.method === "HEAD"
    ? new Response(null, { status: 200, headers })
    : new Response(bytes, { status: 200, headers })
}

const store = (cacheDir: string, offline: boolean) => ({
  cacheDir,
  offline,
  endpoint: "http://hub.test",
  fetch: fakeHub,
  retries: 0,
  token: "",
})

describe("a Hugging Face repository as the transcriber's model", () => {
  it("downloads the files once into <cache>/<owner>--<name>/<revision>, then loads offline from there", async () => {
    const cacheDir = path.join(dir, "cache")
    const first = await Effect.runPromise(
      resolveTranscriberModel({ repo: REPO }, { store: store(cacheDir, false) }),
    )
    expect(first.location).toBe("hub")
    expect(first.folder).toBe(path.join(cacheDir, "tiny-org--moonshine-tiny-random", "main"))
    expect(requests.filter((r) => r.startsWith("GET"))).toHaveLength(first.files.length)

    requests.length = 0
    const pieces = await Effect.runPromise(
      Effect.gen(function* () {
        const t = yield* Transcriber
        for (const frame of twoUtterances()) yield* t.hear(frame)
        return yield* t.flush
      }).pipe(
        Effect.provide(
          Layer.fresh(Transcriber.layer({ source: { repo: REPO }, store: store(cacheDir, true) })),
        ),
      ),
    )
    expect(requests).toEqual([])
    expect(pieces).toHaveLength(2)
  })

  it("offline with nothing cached, names the first file it lacks", async () => {
    const error = await Effect.runPromise(
      Effect.flip(resolveTranscriberModel({ repo: REPO }, { store: store(path.join(dir, "empty"), true) })),
    )
    expect(error).toMatchObject({ _tag: "TranscriberModelMissingError", file: "config.json" })
    expect(error.message).toContain("HF_HUB_OFFLINE")
  })
})
