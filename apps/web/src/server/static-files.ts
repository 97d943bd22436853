import * as fs from "node:fs"
import type * as http from "node:http"
import * as path from "node:path"

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json; charset=utf-8",
}

/** Serves files below `root`; a request path can never leave it. Returns false when nothing matched. */
export const serveStatic = (root: string, pathname: string, res: http.ServerResponse): boolean => {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return false
  }
  const relative = decoded === "/" ? "index.html" : decoded.replace(/^\/+/, "")
  const file = path.resolve(root, relative)
  if (file !== root && !file.startsWith(root + path.sep)) return false
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch {
    return false
  }
  if (!stat.isFile()) return false
  res.writeHead(200, {
    "content-type": contentTypes[path.extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": stat.size,
    "cache-control": "no-cache",
  })
  fs.createReadStream(file).pipe(res)
  return true
}
