import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  HubUnreachableError,
  ModelStore,
  modelStoreConfig,
  PERSONAPLEX_REPO,
  PersonaPlexFiles,
  type ProgressEvent,
  renderProgress,
} from "../src/index.ts"
import { FakeHub } from "./helpers/fakeHub.ts"
import { writeTinyLm } from "./helpers/tinyModels.ts"

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "hub-timeouts-"))
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }))
const tmp = (name: string) => fs.mkdtempSync(path.join(tmpRoot, `${name}-`))

/** A server that accepts every connection and request and never answers. */
const silentHub = async () => {
  const requests: string[] = []
  const server = http.createServer((req) => {
    requests.push(req.url ?? "")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { url, requests, close }
}

const expectTheWaysOut = (error: HubUnreachableError, endpoint: string) => {
  expect(error.hint).toContain(`set HF_ENDPOINT to a hub or mirror you can reach (now ${endpoint})`)
  expect(error.hint).toContain("HF_TOKEN must hold a token with access")
  expect(error.hint).toContain("model.dir in the run configuration")
}

describe("a hub that accepts the connection and never answers", () => {
  it("fails after the request timeout and its retries, saying it waits meanwhile", async () => {
    const hub = await silentHub()
    const events: ProgressEvent[] = []
    const store = ModelStore.make(
      modelStoreConfig(
        {
          endpoint: hub.url,
          cacheDir: tmp("cache"),
          requestTimeoutMs: 300,
          waitingNoticeMs: 100,
          retryDelayMs: 5,
        },
        {},
      ),
    )
    const started = Date.now()
    const error = await Effect.runPromise(
      Effect.flip(store.resolve({ files: ["textTokenizer"], onProgress: (e) => events.push(e) })),
    ).finally(() => hub.close())
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(error).toBeInstanceOf(HubUnreachableError)
    const unreachable = error as HubUnreachableError
    expect(unreachable.message).toBe(
      `cannot reach the Hugging Face hub at ${hub.url}: no answer within 0.3 s (${hub.url}/api/models/${PERSONAPLEX_REPO}/tree/main)`,
    )
    expectTheWaysOut(unreachable, hub.url)
    // three listing attempts, each announced while it waited, two of them retries
    expect(hub.requests.length).toBe(3)
    expect(events.filter((e) => e._tag === "Waiting").length).toBeGreaterThanOrEqual(3)
    expect(
      events.filter((e) => e._tag === "RetryingRequest").map((e) => (e as { attempt: number }).attempt),
    ).toEqual([1, 2])
  })

  it("waits seconds by default, not undici's 300 s (HF_HUB_DOWNLOAD_TIMEOUT sets it)", () => {
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(15_000)
    expect(modelStoreConfig({}, {}).requestTimeoutMs).toBe(15_000)
    expect(modelStoreConfig({}, { HF_HUB_DOWNLOAD_TIMEOUT: "4" }).requestTimeoutMs).toBe(4_000)
  })

  it("prints a waiting line with the elapsed time and a retry line", () => {
    let out = ""
    const render = renderProgress({ write: (t: string) => (out += t), isTTY: false })
    render({ _tag: "Waiting", url: "https://huggingface.co/api/models/x/tree/main", elapsedMs: 5000 })
    render({
      _tag: "RetryingRequest",
      url: "https://huggingface.co/x",
      attempt: 1,
      reason: "no answer within 15 s",
      delayMs: 1000,
    })
    expect(out).toBe(
      "waiting for the hub… 5 s without an answer (https://huggingface.co/api/models/x/tree/main)\n" +
        "https://huggingface.co/x: no answer within 15 s; retry 1 in 1.0 s\n",
    )
  })
})

describe("an unreachable hub", () => {
  it("names HF_ENDPOINT, HF_TOKEN and the offline model.dir way", async () => {
    const hub = await silentHub()
    await hub.close() // nothing listens there any more: the connection is refused
    const store = ModelStore.make(
      modelStoreConfig({ endpoint: hub.url, cacheDir: tmp("cache"), retryDelayMs: 5 }, {}),
    )
    const error = await Effect.runPromise(Effect.flip(store.resolve({ files: ["lm"] })))
    expect(error._tag).toBe("HubUnreachableError")
    expect(error.message).toMatch(
      new RegExp(`^cannot reach the Hugging Face hub at ${hub.url}: fetch failed`),
    )
    expectTheWaysOut(error as HubUnreachableError, hub.url)
  })
})

describe("a download that stalls mid-file", () => {
  const lmFile = path.join(tmp("release"), "lm.safetensors")
  writeTinyLm(lmFile, 16)
  const content = new Uint8Array(fs.readFileSync(lmFile))
  const hub = new FakeHub(PERSONAPLEX_REPO, [{ path: PersonaPlexFiles.lm, content, lfs: true }])
  afterAll(() => hub.close())

  it("is resumed on a new connection once no byte came for stallTimeoutMs", async () => {
    await hub.start()
    hub.stallOnce.add(PersonaPlexFiles.lm)
    const events: ProgressEvent[] = []
    const config = modelStoreConfig(
      { endpoint: hub.url, cacheDir: tmp("cache"), stallTimeoutMs: 200, retryDelayMs: 5 },
      {},
    )
    const files = await Effect.runPromise(
      ModelStore.make(config).resolve({ files: ["lm"], onProgress: (e) => events.push(e) }),
    )
    expect(new Uint8Array(fs.readFileSync(files.lm!))).toEqual(content)
    const retry = events.find((e) => e._tag === "Retrying")
    expect(retry).toMatchObject({ reason: "no data for 0.2 s", attempt: 1 })
    const ranges = hub
      .downloads(PersonaPlexFiles.lm)
      .filter((r) => r.url.startsWith("/cdn/"))
      .map((r) => r.range)
    expect(ranges).toEqual([undefined, `bytes=${content.length >> 1}-`])
    expect(events.some((e) => e._tag === "Downloaded")).toBe(true)
  })
})
