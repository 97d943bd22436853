import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Stream } from "effect"
import * as tar from "tar"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ModelStore,
  type ModelStoreConfig,
  modelStoreConfig,
  PERSONAPLEX_REPO,
  PersonaPlexFiles,
  type ProgressEvent,
  readTorchVoicePrompt,
  renderProgress,
} from "../src/index.ts"
import { type FakeFile, FakeHub } from "./helpers/fakeHub.ts"
import { writeTinyLm, writeTinyMimi, writeUnrelatedCheckpoint } from "./helpers/tinyModels.ts"
import { voicePromptPt } from "./helpers/torchWriter.ts"

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "store-"))
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }))
const tmp = (name: string) => fs.mkdtempSync(path.join(tmpRoot, `${name}-`))

/** The four release files, made by the test, plus config.json as on the real repo. */
const makeRelease = (): ReadonlyArray<FakeFile> => {
  const dir = tmp("release")
  writeTinyLm(path.join(dir, "lm.safetensors"), 16)
  writeTinyMimi(path.join(dir, "mimi.safetensors"))
  fs.mkdirSync(path.join(dir, "voices"))
  const cache = BigInt64Array.from({ length: 68 }, (_, i) => BigInt(i))
  fs.writeFileSync(
    path.join(dir, "voices", "NATF0.pt"),
    voicePromptPt(
      "NATF0",
      Uint16Array.from({ length: 3 * 8 }, (_, i) => 0x3f80 + i),
      3,
      8,
      cache,
    ),
  )
  fs.writeFileSync(
    path.join(dir, "voices", "NATM1.pt"),
    voicePromptPt("NATM1", new Uint16Array(2 * 8), 2, 8, cache),
  )
  tar.c({ gzip: true, cwd: dir, file: path.join(dir, "voices.tgz"), sync: true }, ["voices"])
  const read = (f: string) => new Uint8Array(fs.readFileSync(path.join(dir, f)))
  return [
    { path: PersonaPlexFiles.lm, content: read("lm.safetensors"), lfs: true },
    { path: PersonaPlexFiles.mimi, content: read("mimi.safetensors"), lfs: true },
    {
      path: PersonaPlexFiles.textTokenizer,
      content: Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251),
      lfs: false,
    },
    { path: PersonaPlexFiles.voices, content: read("voices.tgz"), lfs: true },
    { path: "config.json", content: new TextEncoder().encode("{}\n"), lfs: false },
  ]
}

const release = makeRelease()
const contentOf = (file: string) => release.find((f) => f.path === file)!.content

/** A store on the fake hub; `env: {}` keeps the developer's real HF token and cache out of it. */
const storeFor = (hub: FakeHub, overrides: Partial<ModelStoreConfig> = {}) =>
  ModelStore.make(
    modelStoreConfig({ endpoint: hub.url, cacheDir: tmp("cache"), retryDelayMs: 5, ...overrides }, {}),
  )

describe("ModelStore downloading from a Hugging Face layout", () => {
  const hub = new FakeHub(PERSONAPLEX_REPO, release, { gated: true, token: "hf_test" })
  beforeAll(() => hub.start())
  afterAll(() => hub.close())

  it("downloads, resumes after a cut connection, verifies, extracts voices and caches", async () => {
    hub.dropOnce.add(PersonaPlexFiles.lm)
    const events: ProgressEvent[] = []
    const store = storeFor(hub, { token: "hf_test" })
    const files = await Effect.runPromise(store.resolve({ onProgress: (e) => events.push(e) }))

    expect(files.source).toBe("hub")
    for (const key of ["lm", "mimi", "textTokenizer"] as const)
      expect(new Uint8Array(fs.readFileSync(files[key]!))).toEqual(contentOf(PersonaPlexFiles[key]))
    expect(fs.readdirSync(files.voices!).sort()).toEqual(["NATF0.pt", "NATM1.pt"])
    const voice = await Effect.runPromise(readTorchVoicePrompt(path.join(files.voices!, "NATF0.pt")))
    expect(voice.frames).toBe(3)
    expect(fs.readdirSync(files.folder).filter((f) => f.endsWith(".partial"))).toEqual([])

    // the cut: one retry, and the second request asked for the bytes after what had arrived
    const retry = events.find((e) => e._tag === "Retrying")
    expect(retry).toMatchObject({ _tag: "Retrying", file: PersonaPlexFiles.lm, attempt: 1 })
    const lmRequests = hub.downloads(PersonaPlexFiles.lm).filter((r) => r.url.startsWith("/cdn/"))
    expect(lmRequests.map((r) => r.range)).toEqual([
      undefined,
      `bytes=${(retry as { resumeFrom: number }).resumeFrom}-`,
    ])
    expect((retry as { resumeFrom: number }).resumeFrom).toBeGreaterThan(0)
    expect(
      hub.requests
        .filter((r) => r.url.includes("/resolve/"))
        .every((r) => r.authorization === "Bearer hf_test"),
    ).toBe(true)
    expect(events.filter((e) => e._tag === "Downloaded").length).toBe(4)
    expect(events).toContainEqual({ _tag: "Extracting", file: PersonaPlexFiles.voices, into: files.voices })

    // second resolve: everything comes from the cache, only the listing is asked for
    const before = hub.requests.length
    const again = await Effect.runPromise(ModelStore.make(store.config).resolve())
    expect(again.source).toBe("cache")
    expect(hub.requests.slice(before).map((r) => r.url.split("?")[0])).toEqual([
      `/api/models/${PERSONAPLEX_REPO}/tree/main`,
    ])
  })

  it("fails with a message telling how to set HF_TOKEN when the gated repo answers 401", async () => {
    const error = await Effect.runPromise(Effect.flip(storeFor(hub).resolve()))
    expect(error._tag).toBe("HubAuthError")
    expect(error.message).toMatch(
      /nvidia\/personaplex-7b-v1 is gated and no Hugging Face token was found \(HTTP 401/,
    )
    expect(error.message).toMatch(/set HF_TOKEN=hf_\.\.\. \(or save it in ~\/\.cache\/huggingface\/token/)
  })

  it("gives the same message when only the download is gated (the hub lists gated repos publicly)", async () => {
    const listed = await new FakeHub(PERSONAPLEX_REPO, release, {
      gated: true,
      token: "hf_test",
      publicListing: true,
    }).start()
    const error = await Effect.runPromise(Effect.flip(storeFor(listed).resolve({ files: ["lm"] }))).finally(
      () => listed.close(),
    )
    expect(error._tag).toBe("HubAuthError")
    expect(error.message).toMatch(
      /is gated and no Hugging Face token was found \(HTTP 401 for http:\/\/127\.0\.0\.1:\d+\/nvidia\/personaplex-7b-v1\/resolve\/main\/model\.safetensors\)/,
    )
    expect(listed.requests.map((r) => r.url.split("?")[0])).toEqual([
      `/api/models/${PERSONAPLEX_REPO}/tree/main`,
      `/${PERSONAPLEX_REPO}/resolve/main/model.safetensors`,
    ])
  })

  it("says the token was refused (403) when one was sent", async () => {
    const error = await Effect.runPromise(
      Effect.flip(storeFor(hub, { token: "hf_wrong" }).resolve({ files: ["textTokenizer"] })),
    )
    expect(error._tag).toBe("HubAuthError")
    expect(error.message).toMatch(/refused the token \(HTTP 403/)
  })

  it("reads the token from $HF_HOME/token", async () => {
    const home = tmp("hf-home")
    fs.writeFileSync(path.join(home, "token"), "hf_test\n")
    const config = modelStoreConfig({ endpoint: hub.url, cacheDir: tmp("cache") }, { HF_HOME: home })
    expect(config.tokenSource).toBe(path.join(home, "token"))
    const files = await Effect.runPromise(ModelStore.make(config).resolve({ files: ["textTokenizer"] }))
    expect(files.textTokenizer).toBeDefined()
  })

  it("keeps the partial file when the connection keeps failing, and resumes from it on the next run", async () => {
    const cacheDir = tmp("cache")
    const store = storeFor(hub, { token: "hf_test", cacheDir, retries: 2 })
    hub.alwaysDrop.add(PersonaPlexFiles.mimi)
    const error = await Effect.runPromise(Effect.flip(store.resolve({ files: ["mimi"] })))
    hub.alwaysDrop.delete(PersonaPlexFiles.mimi)
    expect(error._tag).toBe("DownloadIncompleteError")
    expect(error.message).toMatch(
      /download stopped at \d+ of \d+ bytes .* the next attempt resumes from there/,
    )
    const dest = path.join(cacheDir, "nvidia--personaplex-7b-v1", "main", PersonaPlexFiles.mimi)
    expect(fs.existsSync(dest)).toBe(false)
    const partialSize = fs.statSync(`${dest}.partial`).size
    expect(partialSize).toBeGreaterThan(0)
    expect(partialSize).toBeLessThan(contentOf(PersonaPlexFiles.mimi).length)

    // a partial download never passes as complete, not even offline
    const offline = await Effect.runPromise(
      Effect.flip(storeFor(hub, { cacheDir, offline: true }).resolve({ files: ["mimi"] })),
    )
    expect(offline._tag).toBe("ModelFileMissingError")

    const before = hub.requests.length
    const files = await Effect.runPromise(store.resolve({ files: ["mimi"] }))
    expect(new Uint8Array(fs.readFileSync(files.mimi!))).toEqual(contentOf(PersonaPlexFiles.mimi))
    const resumed = hub.requests.slice(before).filter((r) => r.url.startsWith("/cdn/"))
    expect(resumed.map((r) => r.range)).toEqual([`bytes=${partialSize}-`])
  })

  it("keeps the partial file when the fetch is interrupted (Ctrl-C, timeout) and resumes from it", async () => {
    const cacheDir = tmp("cache")
    const store = storeFor(hub, { token: "hf_test", cacheDir })
    hub.stallOnce.add(PersonaPlexFiles.lm)
    const dest = path.join(cacheDir, "nvidia--personaplex-7b-v1", "main", PersonaPlexFiles.lm)
    const half = contentOf(PersonaPlexFiles.lm).length >> 1
    // the server sends half the file, then stalls: interrupt once that half is on disk
    const waitForBytes = Effect.promise(async () => {
      while (!fs.existsSync(`${dest}.partial`) || fs.statSync(`${dest}.partial`).size < half)
        await new Promise((r) => setTimeout(r, 5))
    })
    await Effect.runPromise(
      Effect.raceFirst(store.resolve({ files: ["lm"] }).pipe(Effect.ignore), waitForBytes),
    )
    expect(fs.existsSync(dest)).toBe(false)
    const partialSize = fs.statSync(`${dest}.partial`).size
    expect(partialSize).toBe(half)
    const before = hub.requests.length
    const files = await Effect.runPromise(store.resolve({ files: ["lm"] }))
    expect(new Uint8Array(fs.readFileSync(files.lm!))).toEqual(contentOf(PersonaPlexFiles.lm))
    expect(
      hub.requests
        .slice(before)
        .filter((r) => r.url.startsWith("/cdn/"))
        .map((r) => r.range),
    ).toEqual([`bytes=${partialSize}-`])
  })

  it("discards a download whose sha256 differs from the listing", async () => {
    const cacheDir = tmp("cache")
    hub.corrupt.add(PersonaPlexFiles.lm)
    const error = await Effect.runPromise(
      Effect.flip(storeFor(hub, { token: "hf_test", cacheDir }).resolve({ files: ["lm"] })),
    )
    hub.corrupt.delete(PersonaPlexFiles.lm)
    expect(error._tag).toBe("IntegrityError")
    expect(error.message).toMatch(
      /model\.safetensors: sha256 is [0-9a-f]{64}, the hub announced [0-9a-f]{64}; the download was discarded/,
    )
    const folder = path.join(cacheDir, "nvidia--personaplex-7b-v1", "main")
    expect(fs.readdirSync(folder)).toEqual([])
  })

  it("re-hashes cached files on request and downloads a damaged one again", async () => {
    const store = storeFor(hub, { token: "hf_test" })
    const first = await Effect.runPromise(store.resolve({ files: ["mimi"] }))
    const bytes = fs.readFileSync(first.mimi!)
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff
    fs.writeFileSync(first.mimi!, bytes)
    const quick: ProgressEvent[] = []
    await Effect.runPromise(store.resolve({ files: ["mimi"], onProgress: (e) => quick.push(e) }))
    expect(quick.map((e) => e._tag)).toEqual(["Listing", "Cached"])
    const verified: ProgressEvent[] = []
    const files = await Effect.runPromise(
      store.resolve({ files: ["mimi"], verifyCached: true, onProgress: (e) => verified.push(e) }),
    )
    expect(verified.map((e) => e._tag)).toContain("Downloaded")
    expect(new Uint8Array(fs.readFileSync(files.mimi!))).toEqual(contentOf(PersonaPlexFiles.mimi))
  })

  it("checks small non-LFS files against their git blob id", async () => {
    hub.corrupt.add(PersonaPlexFiles.textTokenizer)
    const error = await Effect.runPromise(
      Effect.flip(storeFor(hub, { token: "hf_test" }).resolve({ files: ["textTokenizer"] })),
    )
    hub.corrupt.delete(PersonaPlexFiles.textTokenizer)
    expect(error.message).toMatch(/tokenizer_spm_32k_3\.model: git-sha1 is/)
  })

  it("falls back to HEAD on resolve URLs (X-Linked-Size / X-Linked-ETag) when the endpoint has no tree API", async () => {
    hub.treeApi = false
    const before = hub.requests.length
    const files = await Effect.runPromise(
      storeFor(hub, { token: "hf_test" }).resolve({ files: ["lm", "textTokenizer"] }),
    ).finally(() => {
      hub.treeApi = true
    })
    expect(new Uint8Array(fs.readFileSync(files.lm!))).toEqual(contentOf(PersonaPlexFiles.lm))
    const heads = hub.requests.slice(before).filter((r) => r.method === "HEAD")
    expect(heads.map((r) => r.url)).toEqual([
      `/${PERSONAPLEX_REPO}/resolve/main/${PersonaPlexFiles.lm}`,
      `/${PERSONAPLEX_REPO}/resolve/main/${PersonaPlexFiles.textTokenizer}`,
    ])
    hub.treeApi = false
    hub.corrupt.add(PersonaPlexFiles.lm)
    const error = await Effect.runPromise(
      Effect.flip(storeFor(hub, { token: "hf_test" }).resolve({ files: ["lm"] })),
    )
    hub.corrupt.delete(PersonaPlexFiles.lm)
    hub.treeApi = true
    expect(error.message).toMatch(/sha256 is .* the hub announced/)
  })

  it("streams progress events ending with Ready, and renders them as a bar", async () => {
    const store = storeFor(hub, { token: "hf_test" })
    const events = await Effect.runPromise(Stream.runCollect(store.fetch({ files: ["lm", "textTokenizer"] })))
    const last = events.at(-1)!
    expect(last._tag).toBe("Ready")
    expect(events[0]).toEqual({ _tag: "Listing", repo: PERSONAPLEX_REPO, endpoint: hub.url })
    let out = ""
    const render = renderProgress({ write: (t: string) => (out += t), isTTY: false }, { now: () => 0 })
    for (const e of events) if (e._tag !== "Ready") render(e)
    expect(out).toMatch(/model\.safetensors \[#{30}\] 100% /)
    expect(out).toMatch(/model\.safetensors: done/)
  })
})

describe("ModelStore without the network", () => {
  const failingFetch = (calls: string[]) =>
    ((url: string | URL | Request) => {
      calls.push(String(url))
      return Promise.reject(new TypeError("fetch failed"))
    }) as typeof globalThis.fetch

  const localRelease = () => {
    const dir = tmp("local")
    for (const f of release) fs.writeFileSync(path.join(dir, f.path), f.content)
    return dir
  }

  it("uses a local folder without touching the network", async () => {
    const dir = localRelease()
    const calls: string[] = []
    const store = ModelStore.make(
      modelStoreConfig({ localDir: dir, endpoint: "http://127.0.0.1:9", fetch: failingFetch(calls) }, {}),
    )
    const files = await Effect.runPromise(store.resolve())
    expect(calls).toEqual([])
    expect(files).toMatchObject({
      source: "local",
      lm: path.join(dir, PersonaPlexFiles.lm),
      voices: path.join(dir, "voices"),
    })
    expect(fs.readdirSync(files.voices!).sort()).toEqual(["NATF0.pt", "NATM1.pt"])
  })

  it("names the missing file of a local folder", async () => {
    const dir = localRelease()
    fs.rmSync(path.join(dir, PersonaPlexFiles.mimi))
    const error = await Effect.runPromise(
      Effect.flip(ModelStore.make(modelStoreConfig({ localDir: dir }, {})).resolve()),
    )
    expect(error._tag).toBe("ModelFileMissingError")
    expect(error.message).toMatch(/^tokenizer-e351c8d8-checkpoint125\.safetensors is missing from /)
  })

  it("rejects a checkpoint of the wrong model", async () => {
    const dir = localRelease()
    fs.copyFileSync(path.join(dir, PersonaPlexFiles.mimi), path.join(dir, PersonaPlexFiles.lm))
    const error = await Effect.runPromise(
      Effect.flip(ModelStore.make(modelStoreConfig({ localDir: dir }, {})).resolve({ files: ["lm"] })),
    )
    expect(error._tag).toBe("WrongModelError")
    expect(error.message).toMatch(/model\.safetensors: expected a Moshi LM checkpoint but found Mimi codec/)
    writeUnrelatedCheckpoint(path.join(dir, PersonaPlexFiles.mimi))
    const other = await Effect.runPromise(
      Effect.flip(ModelStore.make(modelStoreConfig({ localDir: dir }, {})).resolve({ files: ["mimi"] })),
    )
    expect(other.message).toMatch(/expected a Mimi codec checkpoint but found 2 tensors of an unknown model/)
  })

  it("rejects a corrupt voices archive", async () => {
    const dir = localRelease()
    const archive = path.join(dir, PersonaPlexFiles.voices)
    fs.writeFileSync(archive, fs.readFileSync(archive).subarray(0, 200))
    const error = await Effect.runPromise(
      Effect.flip(ModelStore.make(modelStoreConfig({ localDir: dir }, {})).resolve({ files: ["voices"] })),
    )
    expect(error._tag).toBe("ArchiveError")
    expect(error.message).toMatch(/voices\.tgz: not a readable gzip'd tar archive/)
    expect(fs.existsSync(path.join(dir, "voices"))).toBe(false)
  })

  it("falls back to a complete cache when the hub is unreachable, and says so when nothing is cached", async () => {
    const calls: string[] = []
    const config = modelStoreConfig(
      { endpoint: "http://127.0.0.1:9", cacheDir: tmp("cache"), fetch: failingFetch(calls) },
      {},
    )
    const error = await Effect.runPromise(
      Effect.flip(ModelStore.make(config).resolve({ files: ["textTokenizer"] })),
    )
    expect(error._tag).toBe("HubUnreachableError")
    expect(error.message).toMatch(
      /^cannot reach the Hugging Face hub at http:\/\/127\.0\.0\.1:9: fetch failed/,
    )
    const folder = path.join(config.cacheDir, "nvidia--personaplex-7b-v1", "main")
    fs.mkdirSync(folder, { recursive: true })
    fs.writeFileSync(path.join(folder, PersonaPlexFiles.textTokenizer), "cached")
    const files = await Effect.runPromise(ModelStore.make(config).resolve({ files: ["textTokenizer"] }))
    expect(files.source).toBe("cache")
  })
})
