/**
 * The upstream PersonaPlex / Moshi WebSocket wire protocol (upstream-spec §6): every message is binary,
 * byte 0 is the kind, the rest is the payload.
 */
export const MessageKind = {
  Handshake: 0x00,
  Audio: 0x01,
  Text: 0x02,
  Control: 0x03,
  Metadata: 0x04,
  Error: 0x05,
  Ping: 0x06,
} as const
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind]

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: false })

const withKind = (kind: MessageKind, payload: Uint8Array): Uint8Array => {
  const message = new Uint8Array(payload.length + 1)
  message[0] = kind
  message.set(payload, 1)
  return message
}

export const encodeHandshake = (): Uint8Array => Uint8Array.of(MessageKind.Handshake)
export const encodeAudio = (oggBytes: Uint8Array): Uint8Array => withKind(MessageKind.Audio, oggBytes)
export const encodeText = (piece: string): Uint8Array => withKind(MessageKind.Text, utf8.encode(piece))
export const encodeError = (message: string): Uint8Array => withKind(MessageKind.Error, utf8.encode(message))
export const encodeMetadata = (json: unknown): Uint8Array =>
  withKind(MessageKind.Metadata, utf8.encode(JSON.stringify(json)))

/** A message as received, kind checked. */
export type IncomingMessage =
  | { readonly kind: "handshake" }
  | { readonly kind: "audio"; readonly payload: Uint8Array }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "control"; readonly payload: Uint8Array }
  | { readonly kind: "metadata"; readonly text: string }
  | { readonly kind: "error"; readonly text: string }
  | { readonly kind: "ping" }

/** Why a message could not be read. */
export type MalformedMessage =
  | { readonly kind: "malformed"; readonly problem: "empty" }
  | { readonly kind: "malformed"; readonly problem: "unknown-kind"; readonly byte: number }

export const describeMalformed = (m: MalformedMessage): string =>
  m.problem === "empty"
    ? "empty message (no kind byte)"
    : `unknown message kind 0x${m.byte.toString(16).padStart(2, "0")}`

export const decodeMessage = (data: Uint8Array): IncomingMessage | MalformedMessage => {
  if (data.length === 0) return { kind: "malformed", problem: "empty" }
  const payload = data.subarray(1)
  switch (data[0]) {
    case MessageKind.Handshake:
      return { kind: "handshake" }
    case MessageKind.Audio:
      return { kind: "audio", payload }
    case MessageKind.Text:
      return { kind: "text", text: utf8Decoder.decode(payload) }
    case MessageKind.Control:
      return { kind: "control", payload }
    case MessageKind.Metadata:
      return { kind: "metadata", text: utf8Decoder.decode(payload) }
    case MessageKind.Error:
      return { kind: "error", text: utf8Decoder.decode(payload) }
    case MessageKind.Ping:
      return { kind: "ping" }
    default:
      return { kind: "malformed", problem: "unknown-kind", byte: data[0]! }
  }
}

/** WebSocket close codes this server uses. */
export const CloseCode = {
  Normal: 1000,
  /** No close frame: the connection dropped (never sent, only reported). */
  Abnormal: 1006,
  /** The request was refused (e.g. an unknown voice). */
  PolicyViolation: 1008,
  /** The server failed. */
  InternalError: 1011,
  /** All session slots are taken: try again later. */
  TryAgainLater: 1013,
} as const
