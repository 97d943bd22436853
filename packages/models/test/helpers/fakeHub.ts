import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeFile {
  readonly path: string
  readonly content: Uint8Array
  /** Stored in LFS: listed with `lfs.oid` (sha256) and downloaded through a redirect to a "CDN" path. */
  readonly lfs: boolean
}

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly range?: string
  readonly authorization?: string
}

const sha256 = (data: Uint8Array) => crypto.createHash("sha256").update(data).digest("hex")
const gitSha1 = (data: Uint8Array) =>
  crypto.createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex")

/**
 * A Hugging Face hub stand-in on 127.0.0.1: `GET /api/models/<repo>/tree/<rev>` (the listing
 * @huggingface/hub's listFiles reads) and `GET /<repo>/resolve/<rev>/<file>` with Range support,
 * LFS files redirected to `/cdn/<sha256>` like the real hub. Gated repos answer 401/403 as the hub does.
 */
export class FakeHub {
  readonly requests: RecordedRequest[] = []
  /** Files whose next body is cut after half of the bytes it should send (socket closed). */
  readonly dropOnce = new Set<string>()
  /** Files whose every body is cut halfway. */
  readonly alwaysDrop = new Set<string>()
  /** Files whose next body stops after half of the bytes, the connection left open (a stalled transfer). */
  readonly stallOnce = new Set<string>()
  /** Files served with one byte flipped (the listing keeps the true hash). */
  readonly corrupt = new Set<string>()
  /** Serve the tree API (some mirrors lack it: then only HEAD/GET on resolve URLs work). */
  treeApi = true
  private server: http.Server | undefined
  url = ""

  constructor(
    readonly repo: string,
    readonly files: ReadonlyArray<FakeFile>,
    readonly access: {
      readonly gated: boolean
      readonly token?: string
      readonly publicListing?: boolean
    } = { gated: false },
  ) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.closeAllConnections()
      this.server?.close(() => resolve())
    })
  }

  downloads(file: string): ReadonlyArray<RecordedRequest> {
    const target = this.files.find((f) => f.path === file)!
    return this.requests.filter(
      (r) => r.url.endsWith(`/resolve/main/${file}`) || r.url === `/cdn/${sha256(target.content)}`,
    )
  }

  private authorized(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (!this.access.gated) return true
    const auth = req.headers.authorization
    if (!auth) {
      res.writeHead(401, { "content-type": "application/json", "x-error-code": "GatedRepo" })
      res.end(
        JSON.stringify({
          error: `Access to model ${this.repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        }),
      )
      return false
    }
    if (auth !== `Bearer ${this.access.token}`) {
      res.writeHead(403, { "content-type": "application/json" })
      res.end(
        JSON.stringify({
          error: `Access to model ${this.repo} is restricted and you are not in the authorized list.`,
        }),
      )
      return false
    }
    return true
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = req.url ?? "/"
    this.requests.push({
      method: req.method ?? "GET",
      url,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    })
    const pathname = url.split("?")[0]!
    if (pathname === `/api/models/${this.repo}/tree/main` && this.treeApi) {
      if (!this.access.publicListing && !this.authorized(req, res)) return
      res.writeHead(200, { "content-type": "application/json" })
      res.end(
        JSON.stringify(
          this.files.map((f) =>
            f.lfs
              ? {
                  type: "file",
                  oid: gitSha1(
                    Buffer.from(
                      `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\n`,
                    ),
                  ),
                  size: f.content.length,
                  path: f.path,
                  lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 },
                }
              : { type: "file", oid: gitSha1(f.content), size: f.content.length, path: f.path },
          ),
        ),
      )
      return
    }
    const resolvePrefix = `/${this.repo}/resolve/main/`
    if (pathname.startsWith(resolvePrefix)) {
      if (!this.authorized(req, res)) return
      const file = this.files.find((f) => f.path === decodeURIComponent(pathname.slice(resolvePrefix.length)))
      if (!file) return this.notFound(res)
      if (file.lfs) {
        res.writeHead(302, {
          location: `${this.url}/cdn/${sha256(file.content)}`,
          "x-linked-size": String(file.content.length),
          "x-linked-etag": `"${sha256(file.content)}"`,
        })
        res.end()
        return
      }
      return this.serve(file, req, res)
    }
    if (pathname.startsWith("/cdn/")) {
      const file = this.files.find((f) => f.lfs && sha256(f.content) === pathname.slice(5))
      return file ? this.serve(file, req, res) : this.notFound(res)
    }
    this.notFound(res)
  }

  private notFound(res: http.ServerResponse) {
    res.writeHead(404, { "content-type": "application/json" })
    res.end(JSON.stringify({ error: "Entry not found" }))
  }

  private serve(file: FakeFile, req: http.IncomingMessage, res: http.ServerResponse) {
    let content = file.content
    if (this.corrupt.has(file.path)) {
      content = Uint8Array.from(content)
      content[content.length >> 1]! ^= 0xff
    }
    const size = content.length
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
    const start = match ? Number(match[1]) : 0
    if (start >= size && match) {
      res.writeHead(416, { "content-range": `bytes */${size}` })
      res.end()
      return
    }
    const body = content.subarray(start)
    res.writeHead(match ? 206 : 200, {
      "content-length": String(body.length),
      etag: `"${file.lfs ? sha256(file.content) : gitSha1(file.content)}"`,
      "accept-ranges": "bytes",
      ...(match ? { "content-range": `bytes ${start}-${size - 1}/${size}` } : {}),
    })
    if (this.stallOnce.delete(file.path)) {
      res.write(Buffer.from(body.subarray(0, Math.max(1, body.length >> 1))))
      return
    }
    const drop = this.alwaysDrop.has(file.path) || this.dropOnce.delete(file.path)
    if (!drop) {
      res.end(Buffer.from(body))
      return
    }
    // Send half, then close the connection as a network failure would.
    res.write(Buffer.from(body.subarray(0, Math.max(1, body.length >> 1))), () => res.socket?.end())
  }
}
