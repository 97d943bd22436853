import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { Data, Effect } from "effect"
import { generate } from "selfsigned"

/** A certificate or key that cannot be used. */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly what: string
  readonly reason: string
}> {
  override get message() {
    return `TLS: ${this.what}: ${this.reason}`
  }
}

/** How the server gets its certificate. */
export type TlsChoice =
  | { readonly _tag: "Files"; readonly cert: string; readonly key: string }
  /** A new self-signed certificate at every start (`--tls-self-signed`). */
  | { readonly _tag: "SelfSigned" }
  /** Upstream's `--ssl DIR`: `cert.pem` and `key.pem` in DIR, made (self-signed) when missing. */
  | { readonly _tag: "Folder"; readonly dir: string }

export interface TlsMaterial {
  /** PEM */
  readonly cert: string
  /** PEM */
  readonly key: string
  /** SHA-256 fingerprint of the certificate, to compare with what the browser shows. */
  readonly fingerprint: string
  /** The names and addresses the certificate is for (self-signed ones). */
  readonly names: ReadonlyArray<string>
}

/** localhost, the loopback addresses, this machine's name and LAN addresses, and the listen host. */
export const certificateNames = (host: string | undefined): ReadonlyArray<string> => {
  const names = new Set(["localhost", "127.0.0.1", "::1", os.hostname()])
  if (host !== undefined && host !== "0.0.0.0" && host !== "::") names.add(host)
  for (const addresses of Object.values(os.networkInterfaces()))
    for (const a of addresses ?? []) if (!a.internal) names.add(a.address)
  return [...names]
}

const fingerprintOf = (cert: string): string => new crypto.X509Certificate(cert).fingerprint256

/** Checks that the key belongs to the certificate (what `https.createServer` would otherwise throw on). */
const checked = (cert: string, key: string, where: string, names: ReadonlyArray<string> = []) =>
  Effect.try({
    try: (): TlsMaterial => {
      tls.createSecureContext({ cert, key })
      return { cert, key, fingerprint: fingerprintOf(cert), names }
    },
    catch: (error) =>
      new TlsError({
        what: where,
        reason: `the certificate and key do not work together (${(error as Error).message})`,
      }),
  })

/** A self-signed certificate (EC P-256, one year) for these names (DNS names and IP addresses). */
export const selfSignedCertificate = (names: ReadonlyArray<string>): Effect.Effect<TlsMaterial, TlsError> =>
  Effect.tryPromise({
    try: () =>
      generate([{ name: "commonName", value: "PersonaPlex web (self-signed)" }], {
        keyType: "ec",
        curve: "P-256",
        notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: names.map((n) =>
              net.isIP(n) !== 0 ? { type: 7 as const, ip: n } : { type: 2 as const, value: n },
            ),
          },
        ],
      }),
    catch: (error) => new TlsError({ what: "self-signed certificate", reason: (error as Error).message }),
  }).pipe(Effect.flatMap((made) => checked(made.cert, made.private, "self-signed certificate", names)))

const readPem = (what: string, file: string) =>
  Effect.try({
    try: () => {
      const text = fs.readFileSync(file, "utf8")
      if (!text.includes("-----BEGIN ")) throw new Error("not a PEM file (no -----BEGIN line)")
      return text
    },
    catch: (error) =>
      new TlsError({
        what: `${what} ${file}`,
        reason:
          (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message,
      }),
  })

/** The certificate and key for the choice; `host` goes into a generated certificate's names. */
export const loadTls = (
  choice: TlsChoice,
  host: string | undefined,
): Effect.Effect<TlsMaterial, TlsError> => {
  switch (choice._tag) {
    case "Files":
      return Effect.gen(function* () {
        const cert = yield* readPem("--tls-cert", choice.cert)
        const key = yield* readPem("--tls-key", choice.key)
        return yield* checked(cert, key, `--tls-cert ${choice.cert} / --tls-key ${choice.key}`)
      })
    case "SelfSigned":
      return selfSignedCertificate(certificateNames(host))
    case "Folder": {
      const certFile = path.join(choice.dir, "cert.pem")
      const keyFile = path.join(choice.dir, "key.pem")
      if (fs.existsSync(certFile) || fs.existsSync(keyFile))
        return Effect.gen(function* () {
          const cert = yield* readPem("--ssl", certFile)
          const key = yield* readPem("--ssl", keyFile)
          return yield* checked(cert, key, `--ssl ${choice.dir}`)
        })
      return selfSignedCertificate(certificateNames(host)).pipe(
        Effect.tap((made) =>
          Effect.try({
            try: () => {
              fs.mkdirSync(choice.dir, { recursive: true })
              fs.writeFileSync(keyFile, made.key, { mode: 0o600 })
              fs.writeFileSync(certFile, made.cert)
            },
            catch: (error) => new TlsError({ what: `--ssl ${choice.dir}`, reason: (error as Error).message }),
          }),
        ),
      )
    }
  }
}
